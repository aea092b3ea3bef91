import { z } from 'zod';
import { ErrorPayload } from './errors.ts';

export const ArtifactEventType = z.enum(['requested', 'started', 'completed', 'failed', 'cancelled', 'deleted']);
export type ArtifactEventType = z.infer<typeof ArtifactEventType>;

export const TransferOperation = z.enum(['upload', 'download', 'delete', 'copy']);
export type TransferOperation = z.infer<typeof TransferOperation>;

/**
 * An artifact lifecycle event, published on `abus.events.artifact.<type>.<store>` in the
 * ABUS_EVENTS stream with the event id as the JetStream message id (de-duplicated).
 * Fields not known at the time of the event are null, never absent.
 */
export const ArtifactEvent = z.object({
  /** Unique per event; the audit service stores each id once. */
  id: z.uuid(),
  time: z.iso.datetime({ offset: true }),
  type: ArtifactEventType,
  operation: TransferOperation,
  requestId: z.string().nullable(),
  store: z.string().nullable(),
  key: z.string().nullable(),
  uri: z.string().nullable(),
  sizeBytes: z.int().min(0).nullable(),
  sha256: z.string().nullable(),
  requester: z.string().nullable(),
  workerId: z.string().nullable(),
  error: ErrorPayload.nullable(),
  /** For copies: where the bytes came from (store, key and uri above are the destination). */
  sourceStore: z.string().nullable().default(null),
  sourceKey: z.string().nullable().default(null),
  sourceUri: z.string().nullable().default(null),
  /** For copies: the job the event belongs to. */
  jobId: z.string().nullable().default(null),
});
export type ArtifactEvent = z.infer<typeof ArtifactEvent>;
