import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { CommonEnv, connectNats, loadConfig, runService, type Logger } from '@artifact-bus/contracts';
import { openDatabase } from '@artifact-bus/database';
import { migrations, type RegistryDatabase } from './db.ts';
import { startRegistry } from './registry-service.ts';
import { SecretBox } from './secret-box.ts';

const RegistryEnv = CommonEnv.extend({
  DATABASE_URL: z.string().optional(),
  /** base64 of 32 bytes; seals new secrets. */
  ABUS_SECRET_KEY: z.string().optional(),
  /** Comma-separated base64 keys that still open older secrets during a rotation. */
  ABUS_SECRET_KEYS_PREVIOUS: z.string().optional(),
});

/** Without ABUS_SECRET_KEY (local quick start) a key is generated once into the data folder. */
async function secretKeys(env: z.infer<typeof RegistryEnv>, logger: Logger): Promise<Buffer[]> {
  const previous = (env.ABUS_SECRET_KEYS_PREVIOUS ?? '').split(',').filter(Boolean).map((k) => Buffer.from(k, 'base64'));
  if (env.ABUS_SECRET_KEY) return [Buffer.from(env.ABUS_SECRET_KEY, 'base64'), ...previous];
  const file = path.resolve(env.ABUS_DATA_DIR, 'secret.key');
  const existing = await readFile(file, 'utf8').catch(() => null);
  if (existing) return [Buffer.from(existing.trim(), 'base64'), ...previous];
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  logger.warn({ file }, 'ABUS_SECRET_KEY is not set: generated a secret key in the data folder (set ABUS_SECRET_KEY in production)');
  return [Buffer.from((await readFile(file, 'utf8')).trim(), 'base64'), ...previous];
}

await runService('registry', async (logger) => {
  const env = loadConfig(RegistryEnv);
  const secrets = new SecretBox(await secretKeys(env, logger));
  const db = await openDatabase<RegistryDatabase>({ url: env.DATABASE_URL, dataDir: env.ABUS_DATA_DIR, schema: 'registry', migrations });
  const nc = await connectNats({ url: env.NATS_URL, name: 'abus-registry', credsFile: env.NATS_CREDS, user: env.NATS_USER, password: env.NATS_PASSWORD, waitForServer: true });
  const registry = await startRegistry({ nc, db, secrets, logger }, { dataDir: env.ABUS_DATA_DIR });
  return {
    async stop() {
      await registry.stop();
      await nc.drain();
      await db.destroy();
    },
  };
});
