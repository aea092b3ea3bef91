import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactBusClient } from '@artifact-bus/client';
import {
  AZURITE_ACCOUNT,
  azureStoreDefinition,
  startAzurite,
  type TestAzurite,
  createTestDatabase,
  S3RVER_CREDENTIALS,
  s3StoreDefinition,
  startNatsServer,
  startProcess,
  startS3Server,
  stopProcess,
  tempDir,
  type TestS3Server,
} from '../harness/index.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** `node --import <tsx>` keeps the service in the node process itself, so its pid is the one whose memory we read. */
const TSX_LOADER = import.meta.resolve('tsx');
const READY_TIMEOUT_MS = 60_000;

export const BENCH_BUCKET = 'abus-bench';
export const BENCH_S3_STORE = 'bench-s3';
export const BENCH_CONTAINER = 'abus-bench';
export const BENCH_AZURE_STORE = 'bench-azure';

export interface WorkerTuning {
  partSizeBytes: number;
  partsInFlight: number;
  chunkSizeBytes: number;
  windowChunks: number;
}

export interface BenchStackOptions {
  tuning: WorkerTuning;
  /** A folder for a V8 CPU profile of the transfer worker, written when it stops. */
  workerProfileDir?: string;
  /** TMPDIR of the services: where tsx keeps its cache of compiled files, so that they start as usual. */
  servicesTmpDir: string;
}

export interface BenchStack {
  s3: TestS3Server;
  azurite: TestAzurite;
  /** The registry's data folder; the `default` local store is `<dataDir>/artifacts`. */
  dataDir: string;
  /** Pid of the transfer worker's node process. */
  workerPid: number;
  /** Connected to the stack; closed by stop(). */
  client: ArtifactBusClient;
  /** Where the database lives: a fresh PostgreSQL database, or the embedded one when PostgreSQL is not reachable. */
  database: 'postgresql' | 'embedded';
}

type ServiceName = 'registry' | 'transfer' | 'audit';

function startService(name: ServiceName, env: NodeJS.ProcessEnv, nodeArgs: string[] = []): ChildProcess {
  const main = path.join(REPO_ROOT, 'services', name, 'src', 'main.ts');
  return startProcess(process.execPath, [...nodeArgs, '--import', TSX_LOADER, main], { env, logName: name });
}

function outputOf(child: ChildProcess): string {
  return (child as ChildProcess & { output?: () => string }).output?.() ?? '';
}

/** Resolves once every probe answers; fails at once with the service's output if a service exits first. */
async function untilAnswering(services: Map<ServiceName, ChildProcess>, probes: (() => Promise<unknown>)[]): Promise<void> {
  const exited = [...services].map(async ([name, child]) => {
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    throw new Error(`the ${name} service exited (${code ?? signal}) while the stack was starting:\n${outputOf(child)}`);
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const ready = (async () => {
    for (const probe of probes) {
      for (;;) {
        try {
          await probe();
          break;
        } catch (error) {
          if (Date.now() > deadline) throw new Error(`the stack did not answer within ${READY_TIMEOUT_MS} ms: ${(error as Error).message}`);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    }
  })();
  try {
    await Promise.race([ready, ...exited]);
  } finally {
    for (const promise of exited) promise.catch(() => undefined);
  }
}

/**
 * The stack as it runs in production, every part in a process of its own on loopback:
 * nats-server, s3rver, and the registry, audit and transfer services started from their main.ts.
 * `onStarted` is called with a stop function for each part as soon as it runs: the caller stops
 * them in reverse order, so that a failure half way (or Ctrl-C) still stops what was started.
 */
export async function startBenchStack(
  { tuning, workerProfileDir, servicesTmpDir }: BenchStackOptions,
  onStarted: (stop: () => Promise<void>) => void,
): Promise<BenchStack> {
  const nats = await startNatsServer();
  onStarted(() => nats.stop());
  const s3 = await startS3Server();
  onStarted(() => s3.stop());
  await s3.createBucket(BENCH_BUCKET);
  const azurite = await startAzurite();
  onStarted(() => azurite.stop());
  await azurite.createContainer(BENCH_CONTAINER);
  const data = await tempDir('bench-data');
  onStarted(() => data.remove());

  let databaseUrl: string | undefined;
  try {
    const database = await createTestDatabase();
    onStarted(() => database.drop());
    databaseUrl = database.url;
  } catch (error) {
    process.stderr.write(`PostgreSQL is not reachable (${(error as Error).message}): the services use their embedded databases (slow start)\n`);
  }

  const env: NodeJS.ProcessEnv = {
    NATS_URL: nats.url,
    ABUS_DATA_DIR: data.path,
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    TMPDIR: servicesTmpDir,
  };
  const services = new Map<ServiceName, ChildProcess>();
  for (const name of ['registry', 'audit'] as const) services.set(name, startService(name, env));
  const worker = startService(
    'transfer',
    {
      ...env,
      ABUS_PART_SIZE_BYTES: String(tuning.partSizeBytes),
      ABUS_PARTS_IN_FLIGHT: String(tuning.partsInFlight),
      ABUS_CHUNK_SIZE_BYTES: String(tuning.chunkSizeBytes),
      ABUS_WINDOW_CHUNKS: String(tuning.windowChunks),
    },
    workerProfileDir ? ['--cpu-prof', '--cpu-prof-dir', workerProfileDir] : [],
  );
  services.set('transfer', worker);
  for (const child of services.values()) onStarted(() => stopProcess(child));

  const client = await ArtifactBusClient.connect({
    natsUrl: nats.url,
    requester: 'transfer-bench',
    idleTimeoutMs: 120_000,
    downloadWindowChunks: tuning.windowChunks,
  });
  // Closed, not drained: on Ctrl-C the nats-server may already be gone, and a drain would wait for it.
  onStarted(() => client.nc.close());
  await untilAnswering(services, [() => client.stores.list(), () => client.list('default'), () => client.audit.query({ limit: 1 })]);

  const secretName = `${BENCH_S3_STORE}-credentials`;
  await client.secrets.create(secretName, S3RVER_CREDENTIALS);
  await client.stores.register(BENCH_S3_STORE, s3StoreDefinition(s3.endpoint, BENCH_BUCKET, secretName));
  await client.secrets.create(`${BENCH_AZURE_STORE}-credentials`, AZURITE_ACCOUNT);
  await client.stores.register(BENCH_AZURE_STORE, azureStoreDefinition(azurite.accountUrl, BENCH_CONTAINER, `${BENCH_AZURE_STORE}-credentials`));

  if (worker.pid === undefined) throw new Error('the transfer worker has no pid');
  return {
    s3,
    azurite,
    dataDir: data.path,
    workerPid: worker.pid,
    client,
    database: databaseUrl ? 'postgresql' : 'embedded',
  };
}
