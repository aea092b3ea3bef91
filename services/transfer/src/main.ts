import { hostname } from 'node:os';
import { z } from 'zod';
import { CommonEnv, connectNats, intVar, loadConfig, runService } from '@artifact-bus/contracts';
import { TransferWorker } from './transfer-worker.ts';

const MiB = 1024 * 1024;

const TransferEnv = CommonEnv.extend({
  ABUS_WORKER_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).default(`${hostname()}-${process.pid}`),
  ABUS_MAX_CONCURRENT_TRANSFERS: intVar(1, 1024, 8),
  /** S3 parts are at least 5 MiB; larger parts mean fewer requests and more memory. */
  ABUS_PART_SIZE_BYTES: intVar(5 * MiB, 5 * 1024 * MiB, 8 * MiB),
  ABUS_PARTS_IN_FLIGHT: intVar(1, 64, 4),
  ABUS_CHUNK_SIZE_BYTES: intVar(16 * 1024, 64 * MiB, MiB),
  ABUS_WINDOW_CHUNKS: intVar(1, 256, 8),
  ABUS_IDLE_TIMEOUT_MS: intVar(1000, 3_600_000, 30_000),
  ABUS_DRAIN_GRACE_MS: intVar(0, 3_600_000, 30_000),
  ABUS_MAX_CONCURRENT_JOBS: intVar(1, 64, 2),
  ABUS_JOB_ACK_WAIT_MS: intVar(3000, 600_000, 30_000),
  ABUS_JOB_MAX_DELIVERIES: intVar(1, 100, 5),
});

await runService('transfer', async (logger) => {
  const env = loadConfig(TransferEnv);
  const nc = await connectNats({ url: env.NATS_URL, name: `abus-transfer-${env.ABUS_WORKER_ID}`, credsFile: env.NATS_CREDS, user: env.NATS_USER, password: env.NATS_PASSWORD, waitForServer: true });
  const worker = new TransferWorker(nc, logger.child({ workerId: env.ABUS_WORKER_ID }), {
    workerId: env.ABUS_WORKER_ID,
    maxConcurrentTransfers: env.ABUS_MAX_CONCURRENT_TRANSFERS,
    partSizeBytes: env.ABUS_PART_SIZE_BYTES,
    partsInFlight: env.ABUS_PARTS_IN_FLIGHT,
    chunkSizeBytes: env.ABUS_CHUNK_SIZE_BYTES,
    windowChunks: env.ABUS_WINDOW_CHUNKS,
    idleTimeoutMs: env.ABUS_IDLE_TIMEOUT_MS,
    drainGraceMs: env.ABUS_DRAIN_GRACE_MS,
    maxConcurrentJobs: env.ABUS_MAX_CONCURRENT_JOBS,
    jobAckWaitMs: env.ABUS_JOB_ACK_WAIT_MS,
    jobMaxDeliveries: env.ABUS_JOB_MAX_DELIVERIES,
  });
  await worker.start();
  return {
    async stop() {
      await worker.stop();
      await nc.drain();
    },
  };
});
