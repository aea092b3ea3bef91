import { createHash } from 'node:crypto';
import { AbusError, type ObjectInfo, type ObjectSummary, type StoreLocation } from '@artifact-bus/contracts';

/** A body whose size and sha256 are known once it has been iterated to its end. */
export interface VerifiedBody extends AsyncIterable<Uint8Array> {
  /** Valid only after the iteration ended normally; a body that fails verification throws instead of ending. */
  result(): { sizeBytes: number; sha256: string };
}

export interface PutOptions {
  /** Declared size, when known: lets a backend choose a part size that fits its part limit. */
  sizeBytes?: number;
  contentType?: string;
  metadata?: Record<string, string>;
}

export interface ReadRange {
  offset: number;
  /** Bytes to read; to the end of the object when absent. Clipped at the end. */
  length?: number;
}

export interface ObjectRead {
  object: ObjectInfo;
  offset: number;
  /** Bytes the body will yield. */
  sizeBytes: number;
  body: AsyncIterable<Uint8Array>;
}

export interface ListPage {
  objects: ObjectSummary[];
  nextPageToken?: string;
}

/** What `deploy` provisioned. */
export interface Deployment {
  /** The bucket, container or folder: `s3://bucket`, `az://container`, `file:///dir`. */
  resource: string;
  /** false when it existed already and nothing was done. */
  created: boolean;
}

/**
 * The one storage contract. Keys are validated (`assertValidKey`) before they get here and are
 * relative to the store's root path. Every backend:
 * - commits a put all-or-nothing: if `body` throws (digest mismatch, sender gone) or the backend
 *   fails, nothing becomes visible and no parts or temp files are left behind;
 * - holds at most its configured part buffers in memory, whatever the object's size;
 * - records the sha256 of what it stored, so `stat` can return it;
 * - throws AbusError with OBJECT_NOT_FOUND, RANGE_NOT_SATISFIABLE, ACCESS_DENIED,
 *   BACKEND_UNAVAILABLE or BACKEND_ERROR, never a raw SDK error.
 */
export interface StorageBackend {
  readonly location: StoreLocation;
  uri(key: string): string;
  put(key: string, body: VerifiedBody, options?: PutOptions): Promise<{ sizeBytes: number; sha256: string }>;
  /** Opens a ranged read; fails before any byte is read when the object is missing or the range is past its end. */
  get(key: string, range?: ReadRange): Promise<ObjectRead>;
  stat(key: string): Promise<ObjectInfo>;
  /** Objects whose key starts with `prefix`, in key order, a page at a time. */
  list(prefix: string, page: { pageSize: number; pageToken?: string }): Promise<ListPage>;
  /** Returns false when there was nothing to delete. */
  delete(key: string): Promise<boolean>;
  /**
   * Copies `sourceKey` of `source` to `key` inside the storage service, without the bytes passing
   * through the worker, when both ends are on the same service with the same credentials and the
   * source's sha256 is recorded; resolves null when it cannot (the caller then streams the copy).
   */
  copyFrom?(source: StorageBackend, sourceKey: string, object: ObjectInfo, key: string): Promise<{ sizeBytes: number; sha256: string } | null>;
  /**
   * Provisions what the store's path points to, when it is missing: the bucket, the container,
   * the folder. A prefix needs nothing (it exists once an object is under it).
   */
  deploy(): Promise<Deployment>;
  close(): void;
}

/**
 * Wraps any byte source as a VerifiedBody by hashing it as it flows. With `expected`, a size or
 * digest that does not match is thrown before the iteration ends, so the backend commits nothing.
 */
export function hashingBody(source: AsyncIterable<Uint8Array>, expected: { sizeBytes?: number; sha256?: string | null } = {}): VerifiedBody {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  let result: { sizeBytes: number; sha256: string } | undefined;
  return {
    async *[Symbol.asyncIterator]() {
      for await (const chunk of source) {
        hash.update(chunk);
        sizeBytes += chunk.byteLength;
        if (expected.sizeBytes !== undefined && sizeBytes > expected.sizeBytes) {
          throw new AbusError('SIZE_MISMATCH', `the source yielded more than its ${expected.sizeBytes} bytes`);
        }
        yield chunk;
      }
      const sha256 = hash.digest('hex');
      if (expected.sizeBytes !== undefined && sizeBytes !== expected.sizeBytes) {
        throw new AbusError('SIZE_MISMATCH', `the source yielded ${sizeBytes} of its ${expected.sizeBytes} bytes`);
      }
      if (expected.sha256 && sha256 !== expected.sha256) {
        throw new AbusError('DIGEST_MISMATCH', `the source's bytes hash to ${sha256}, not its recorded ${expected.sha256}`);
      }
      result = { sizeBytes, sha256 };
    },
    result() {
      if (!result) throw new Error('body not read to its end');
      return result;
    },
  };
}

/** Resolves a requested range against an object: clipped at its end; RANGE_NOT_SATISFIABLE past it. */
export function clipRange(object: ObjectInfo, range: ReadRange | undefined): { offset: number; length: number } {
  const offset = range?.offset ?? 0;
  if (offset > object.sizeBytes) {
    throw new AbusError('RANGE_NOT_SATISFIABLE', `offset ${offset} is past the end of "${object.key}" (${object.sizeBytes} bytes)`);
  }
  return { offset, length: Math.min(range?.length ?? object.sizeBytes - offset, object.sizeBytes - offset) };
}

/** The body of an empty range: no request is made for it. */
export async function* emptyBody(): AsyncGenerator<Uint8Array> {}

/** Sidecar record kept under `.abus/meta/` for what a backend cannot store on the object itself. */
export interface DigestRecord {
  sha256: string;
  /** Ties the record to one version of the object (an ETag, or size + mtime): a stale record is ignored. */
  version: string;
}
