import { z } from 'zod';
import { CommonEnv, connectNats, loadConfig, runService } from '@artifact-bus/contracts';
import { openDatabase } from '@artifact-bus/database';
import { startAudit } from './audit-service.ts';
import { migrations, type AuditDatabase } from './db.ts';

const AuditEnv = CommonEnv.extend({ DATABASE_URL: z.string().optional() });

await runService('audit', async (logger) => {
  const env = loadConfig(AuditEnv);
  const db = await openDatabase<AuditDatabase>({ url: env.DATABASE_URL, dataDir: env.ABUS_DATA_DIR, schema: 'audit', migrations });
  const nc = await connectNats({ url: env.NATS_URL, name: 'abus-audit', credsFile: env.NATS_CREDS, user: env.NATS_USER, password: env.NATS_PASSWORD, waitForServer: true });
  const audit = await startAudit(nc, db, logger);
  return {
    async stop() {
      await audit.stop();
      await nc.drain();
      await db.destroy();
    },
  };
});
