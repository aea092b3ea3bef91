import { hostname } from 'node:os';
import { z } from 'zod';
import { CommonEnv, intVar } from '@artifact-bus/contracts';

const MiB = 1024 * 1024;

/** The transfer service's environment: every knob, with its default. */
export const TransferEnv = CommonEnv.extend({
  ABUS_WORKER_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).default(`${hostname()}-${process.pid}`),
  ABUS_MAX_CONCURRENT_TRANSFERS: intVar(1, 1024, 8),
  /** S3 parts are at least 5 MiB; larger parts mean fewer requests and more memory. */
  ABUS_PART_SIZE_BYTES: intVar(5 * MiB, 5 * 1024 * MiB, 8 * MiB),
  ABUS_PARTS_IN_FLIGHT: intVar(1, 64, 4),
  // 256 KiB chunks cost less CPU per byte than 1 MiB ones (nats.js reassembles large messages by copying): measured by npm run bench.
  ABUS_CHUNK_SIZE_BYTES: intVar(16 * 1024, 64 * MiB, 256 * 1024),
  ABUS_WINDOW_CHUNKS: intVar(1, 256, 32),
  ABUS_IDLE_TIMEOUT_MS: intVar(1000, 3_600_000, 30_000),
  ABUS_DRAIN_GRACE_MS: intVar(0, 3_600_000, 30_000),
  ABUS_MAX_CONCURRENT_JOBS: intVar(1, 64, 2),
  ABUS_JOB_ACK_WAIT_MS: intVar(3000, 600_000, 30_000),
  ABUS_JOB_MAX_DELIVERIES: intVar(1, 100, 5),
});
