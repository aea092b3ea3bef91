import { z } from 'zod';
import { ArtifactKey, ArtifactPrefix, ResourceName } from './keys.ts';

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');
const Inbox = z.string().regex(/^[A-Za-z0-9_.-]{1,256}$/, 'a NATS subject without wildcards');
const RequestId = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, '1-128 letters, digits, "_", ".", ":" or "-"');
/** Who asked, as the client declares it (the NATS identity joins it with access control). */
const Requester = z.string().max(256);
const Metadata = z
  // Azure allows only C# identifiers as metadata names; the same rule keeps keys portable between stores.
  .record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'metadata keys are lowercase letters, digits and "_", starting with a letter'),
    // Values travel as HTTP headers in every backend: printable ASCII only.
    z.string().max(1024).regex(/^[\x20-\x7e]*$/, 'metadata values are printable ASCII'),
  )
  .refine((m) => Object.keys(m).length <= 32, 'at most 32 metadata entries');
const SizeBytes = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

export const UploadRequest = z.object({
  requestId: RequestId.optional(),
  store: ResourceName.optional(),
  key: ArtifactKey,
  /** Declared size, when known: lets the backend pick a part size that fits its part limit. */
  sizeBytes: SizeBytes.optional(),
  contentType: z.string().max(256).optional(),
  metadata: Metadata.optional(),
  requester: Requester.optional(),
  /** Where the worker sends credit, heartbeats and the final result (the client's inbox). */
  creditSubject: Inbox,
});
export type UploadRequest = z.infer<typeof UploadRequest>;

export const UploadAccepted = z.object({
  transferId: z.string(),
  requestId: RequestId,
  store: ResourceName,
  key: ArtifactKey,
  uri: z.string(),
  /** Where the client sends chunks; each at most chunkSizeBytes, at most windowChunks unacknowledged. */
  dataSubject: Inbox,
  chunkSizeBytes: z.int().positive(),
  windowChunks: z.int().positive(),
});
export type UploadAccepted = z.infer<typeof UploadAccepted>;

export const TransferResult = z.object({
  requestId: RequestId,
  store: ResourceName,
  key: ArtifactKey,
  uri: z.string(),
  sizeBytes: SizeBytes,
  sha256: Sha256Hex,
});
export type TransferResult = z.infer<typeof TransferResult>;

export const DownloadRequest = z.object({
  requestId: RequestId.optional(),
  store: ResourceName.optional(),
  key: ArtifactKey,
  /** Byte range: `offset` from the start, `length` bytes (to the end when absent). */
  offset: SizeBytes.default(0),
  length: SizeBytes.optional(),
  requester: Requester.optional(),
  /** Where the worker sends chunks (the client's inbox). */
  dataSubject: Inbox,
  windowChunks: z.int().min(1).max(256).optional(),
});
export type DownloadRequest = z.infer<typeof DownloadRequest>;

export const ObjectInfo = z.object({
  key: ArtifactKey,
  sizeBytes: SizeBytes,
  /** Hex sha256 of the whole object; null when the object was written outside Artifact Bus. */
  sha256: Sha256Hex.nullable(),
  modifiedAt: z.iso.datetime({ offset: true }),
  contentType: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
});
export type ObjectInfo = z.infer<typeof ObjectInfo>;

export const DownloadAccepted = z.object({
  transferId: z.string(),
  requestId: RequestId,
  store: ResourceName,
  uri: z.string(),
  /** Where the client sends credit as it consumes. */
  creditSubject: Inbox,
  offset: SizeBytes,
  /** Bytes that this download will send (the range's length). */
  sizeBytes: SizeBytes,
  object: ObjectInfo,
});
export type DownloadAccepted = z.infer<typeof DownloadAccepted>;

export const StatRequest = z.object({ store: ResourceName.optional(), key: ArtifactKey });
export const StatReply = z.object({ store: ResourceName, uri: z.string(), object: ObjectInfo });
export type StatReply = z.infer<typeof StatReply>;

export const ListRequest = z.object({
  store: ResourceName.optional(),
  prefix: ArtifactPrefix.default(''),
  pageSize: z.int().min(1).max(1000).default(1000),
  pageToken: z.string().max(4096).optional(),
});
export const ObjectSummary = z.object({
  key: ArtifactKey,
  sizeBytes: SizeBytes,
  modifiedAt: z.iso.datetime({ offset: true }),
});
export type ObjectSummary = z.infer<typeof ObjectSummary>;
export const ListReply = z.object({
  store: ResourceName,
  objects: z.array(ObjectSummary),
  /** Present when more objects follow: pass it back as pageToken. */
  nextPageToken: z.string().optional(),
});
export type ListReply = z.infer<typeof ListReply>;

export const DeleteRequest = z.object({
  requestId: RequestId.optional(),
  store: ResourceName.optional(),
  key: ArtifactKey,
  requester: Requester.optional(),
});
export const DeleteReply = z.object({
  requestId: RequestId,
  store: ResourceName,
  key: ArtifactKey,
  uri: z.string(),
  /** false when there was nothing to delete (deleting is idempotent). */
  deleted: z.boolean(),
});

export const CancelRequest = z.object({ requestId: RequestId, requester: Requester.optional() });
export const CancelReply = z.object({ requestId: RequestId, cancelled: z.literal(true), workerId: z.string() });
