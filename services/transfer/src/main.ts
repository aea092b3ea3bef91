import { connectNats, loadConfig, runService } from '@artifact-bus/contracts';
import { TransferEnv } from './config.ts';
import { TransferWorker } from './transfer-worker.ts';

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
