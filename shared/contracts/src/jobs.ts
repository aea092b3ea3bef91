import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { nanos } from '@nats-io/nats-core';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { ErrorPayload } from './errors.ts';
import { ArtifactKey, ArtifactPrefix, ResourceName } from './keys.ts';

/** Durable work: a JetStream work queue; each job is taken by one worker and acked when done. */
export const JOBS_STREAM = 'ABUS_JOBS';
export const COPY_CONSUMER = 'abus-copy-workers';
/** A KV bucket of job states, keyed by job id: the client watches it for progress and the result. */
export const JOBS_BUCKET = 'abus_jobs';
export const jobSubjects = {
  all: 'abus.jobs.>',
  copy: 'abus.jobs.copy',
} as const;

const Endpoint = z.object({ store: ResourceName.optional(), key: z.string().max(1024) });

/**
 * A copy job, published on `abus.jobs.copy` with the job id as the JetStream message id.
 * With `recursive`, `source.key` and `destination.key` are prefixes ("" for the whole store).
 * An object already at the destination with the same sha256 (or, when either digest is
 * unknown, the same size) is skipped, so re-running a job copies only what is missing.
 */
export const CopyJob = z
  .object({
    jobId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, '1-64 letters, digits, "_" or "-"'),
    source: Endpoint,
    destination: Endpoint,
    recursive: z.boolean().default(false),
    /** Copy even when the destination already holds the same bytes. */
    overwrite: z.boolean().default(false),
    requester: z.string().max(256).optional(),
  })
  .superRefine((job, ctx) => {
    const schema = job.recursive ? ArtifactPrefix : ArtifactKey;
    for (const end of ['source', 'destination'] as const) {
      const parsed = schema.safeParse(job[end].key);
      if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: [end, 'key'] } as z.core.$ZodRawIssue);
    }
  });
export type CopyJob = z.infer<typeof CopyJob>;
export type CopyJobInput = z.input<typeof CopyJob>;

/** At most this many entries of each list in a job state (counts stay exact): a KV value is at most max_payload. */
export const JOB_LIST_LIMIT = 1000;

export const JobState = z.object({
  jobId: z.string(),
  state: z.enum(['running', 'completed', 'failed', 'cancelled']),
  source: z.object({ store: z.string().nullable(), key: z.string() }),
  destination: z.object({ store: z.string().nullable(), key: z.string() }),
  objectsTotal: z.int().min(0),
  objectsCopied: z.int().min(0),
  objectsSkipped: z.int().min(0),
  objectsFailed: z.int().min(0),
  bytesCopied: z.int().min(0),
  copied: z.array(
    z.object({
      key: z.string(),
      sizeBytes: z.int().min(0),
      sha256: z.string(),
      /** server-side: inside the storage service; streamed: through the worker. */
      method: z.enum(['server-side', 'streamed']),
    }),
  ),
  skipped: z.array(z.string()),
  failed: z.array(z.object({ key: z.string(), error: ErrorPayload })),
  /** Why the whole job failed (source store missing, bad request, ...), when it did. */
  error: ErrorPayload.nullable(),
  workerId: z.string().nullable(),
  updatedAt: z.iso.datetime({ offset: true }),
});
export type JobState = z.infer<typeof JobState>;

/** Creates the jobs work queue and the job-state bucket if missing. */
export async function ensureJobs(nc: NatsConnection): Promise<KV> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(JOBS_STREAM);
  } catch {
    await jsm.streams
      .add({
        name: JOBS_STREAM,
        subjects: [jobSubjects.all],
        storage: StorageType.File,
        retention: RetentionPolicy.Workqueue,
        duplicate_window: nanos(2 * 60_000),
      })
      .catch(async (error) => {
        await jsm.streams.info(JOBS_STREAM).catch(() => {
          throw error;
        });
      });
  }
  return new Kvm(nc).create(JOBS_BUCKET, { history: 1, ttl: 7 * 24 * 3600_000 });
}
