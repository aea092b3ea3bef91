import { randomBytes } from 'node:crypto';
import { migrations as auditMigrations, type AuditDatabase, startAudit, type AuditService } from '@artifact-bus/audit';
import { ArtifactBusClient, type ClientOptions } from '@artifact-bus/client';
import { connectNats, createLogger, ensureEventsStream, type NatsConnection } from '@artifact-bus/contracts';
import { openDatabase } from '@artifact-bus/database';
import { migrations as registryMigrations, SecretBox, startRegistry, type RegistryDatabase, type RegistryService } from '@artifact-bus/registry';
import { TransferWorker, type TransferWorkerOptions } from '@artifact-bus/transfer';
import type { Kysely } from 'kysely';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { startNatsServer, type TestNatsServer } from './nats-server.ts';
import { tempDir } from './processes.ts';

const MiB = 1024 * 1024;

/** Small parts and chunks so that multi-part paths run on small test artifacts. */
export const TEST_WORKER_OPTIONS: Omit<TransferWorkerOptions, 'workerId'> = {
  maxConcurrentTransfers: 16,
  partSizeBytes: 5 * MiB,
  partsInFlight: 3,
  chunkSizeBytes: 256 * 1024,
  windowChunks: 8,
  idleTimeoutMs: 10_000,
};

export interface TestStack {
  nats: TestNatsServer;
  database: TestDatabase;
  /** The data folder: the default local store lives in `<dataDir>/artifacts`. */
  dataDir: string;
  workers: TransferWorker[];
  /** A client of the stack; closed by stop(). */
  client(options?: ClientOptions): Promise<ArtifactBusClient>;
  addWorker(options?: Partial<TransferWorkerOptions>): Promise<TransferWorker>;
  /** The audit service's database, to check rows directly. */
  auditDb: Kysely<AuditDatabase>;
  registryDb: Kysely<RegistryDatabase>;
  stop(): Promise<void>;
}

export const testLogger = (name: string) => createLogger(name, process.env.ABUS_TEST_VERBOSE ? 'debug' : 'silent');

/**
 * The whole stack in this process, on a nats-server and a PostgreSQL database of its own:
 * registry, audit and `workers` transfer workers, each with its own NATS connection, exactly
 * as their main.ts wires them.
 */
export async function startTestStack(options: { workers?: number; worker?: Partial<TransferWorkerOptions> } = {}): Promise<TestStack> {
  const nats = await startNatsServer();
  const database = await createTestDatabase();
  const data = await tempDir('data');
  const connections: NatsConnection[] = [];
  const connectService = async (name: string) => {
    const nc = await connectNats({ url: nats.url, name });
    connections.push(nc);
    return nc;
  };
  const registryDb = await openDatabase<RegistryDatabase>({ url: database.url, dataDir: data.path, schema: 'registry', migrations: registryMigrations });
  const auditDb = await openDatabase<AuditDatabase>({ url: database.url, dataDir: data.path, schema: 'audit', migrations: auditMigrations });
  const registryNc = await connectService('registry');
  await ensureEventsStream(registryNc);
  const registry: RegistryService = await startRegistry(
    { nc: registryNc, db: registryDb, secrets: new SecretBox([randomBytes(32)]), logger: testLogger('registry') },
    { dataDir: data.path },
  );
  const audit: AuditService = await startAudit(await connectService('audit'), auditDb, testLogger('audit'));
  const workers: TransferWorker[] = [];
  const clients: ArtifactBusClient[] = [];

  const addWorker = async (overrides: Partial<TransferWorkerOptions> = {}) => {
    const workerId = `worker-${workers.length + 1}`;
    const worker = new TransferWorker(await connectService(workerId), testLogger(workerId), {
      ...TEST_WORKER_OPTIONS,
      ...options.worker,
      workerId,
      ...overrides,
    });
    await worker.start();
    workers.push(worker);
    return worker;
  };
  for (let i = 0; i < (options.workers ?? 1); i++) await addWorker();

  return {
    nats,
    database,
    dataDir: data.path,
    workers,
    auditDb,
    registryDb,
    addWorker,
    async client(clientOptions = {}) {
      const client = await ArtifactBusClient.connect({ natsUrl: nats.url, requester: 'test-suite', idleTimeoutMs: 10_000, ...clientOptions });
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.allSettled(clients.map((c) => c.close()));
      await Promise.allSettled(workers.map((w) => w.stop()));
      await Promise.allSettled([registry.stop(), audit.stop()]);
      await Promise.allSettled(connections.map((nc) => nc.close()));
      await Promise.allSettled([registryDb.destroy(), auditDb.destroy()]);
      await nats.stop();
      await database.drop();
      await data.remove();
    },
  };
}
