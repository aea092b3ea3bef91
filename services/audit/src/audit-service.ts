import type { Logger, NatsConnection } from '@artifact-bus/contracts';
import { serveAuditQueries } from './audit-queries.ts';
import type { AuditDb } from './db.ts';
import { EventRecorder } from './event-recorder.ts';

export interface AuditService {
  stop(): Promise<void>;
}

export async function startAudit(nc: NatsConnection, db: AuditDb, logger: Logger): Promise<AuditService> {
  const recorder = new EventRecorder(nc, db, logger);
  await recorder.start();
  const subscriptions = serveAuditQueries(nc, db, logger);
  return {
    async stop() {
      await Promise.all(subscriptions.map((s) => s.drain()));
      await recorder.stop();
    },
  };
}
