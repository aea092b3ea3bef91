import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  type BucketLocationConstraint,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { z } from 'zod';
import {
  AbusError,
  objectUri,
  RESERVED_PREFIX,
  S3AdditionalKwargs,
  S3ClientKwargs,
  S3ConfigKwargs,
  type ObjectInfo,
  type S3Location,
} from '@artifact-bus/contracts';
import { growingPartSize, uploadInParts } from './parted-upload.ts';
import { clipRange, emptyBody, type Deployment, type DigestRecord, type ListPage, type ObjectRead, type PutOptions, type ReadRange, type StorageBackend, type VerifiedBody } from './backend.ts';

/** S3 allows at most 10,000 parts per multipart upload, each 5 MiB to 5 GiB (the last may be smaller). */
const MAX_PARTS = 10_000;
const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_PART_BYTES = 5 * 1024 * 1024 * 1024;
/** With no declared size, the part size doubles every this many parts, so 10,000 parts reach S3's 5 TiB object limit. */
const PARTS_PER_SIZE_STEP = 1000;
const SHA256_METADATA = 'abus-sha256';

export interface S3Credentials {
  aws_access_key_id: string;
  aws_secret_access_key: string;
  aws_session_token?: string;
}

export interface S3BackendOptions {
  location: S3Location;
  clientKwargs?: z.infer<typeof S3ClientKwargs>;
  configKwargs?: z.infer<typeof S3ConfigKwargs>;
  additionalKwargs?: z.infer<typeof S3AdditionalKwargs>;
  /** From the store's secret; without them the AWS SDK's default credential chain is used. */
  credentials?: S3Credentials;
  partSizeBytes: number;
  partsInFlight: number;
}

/** Maps ZenML's boto-style options onto an AWS SDK v3 client configuration. */
export function s3ClientConfig(options: Pick<S3BackendOptions, 'clientKwargs' | 'configKwargs' | 'credentials' | 'partsInFlight'>): S3ClientConfig {
  const client = options.clientKwargs ?? {};
  const config = options.configKwargs ?? {};
  const style = config.s3?.addressing_style ?? 'auto';
  const agentOptions = { keepAlive: true, maxSockets: Math.max(16, options.partsInFlight * 4) };
  const upper = (value: 'when_supported' | 'when_required' | undefined) => (value ? (value.toUpperCase() as 'WHEN_SUPPORTED' | 'WHEN_REQUIRED') : undefined);
  return {
    region: client.region_name ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    endpoint: client.endpoint_url,
    // boto's "auto" picks path style for custom endpoints (MinIO, Ceph RGW, s3rver), virtual hosts for AWS.
    forcePathStyle: style === 'path' || (style === 'auto' && client.endpoint_url !== undefined),
    credentials: options.credentials
      ? {
          accessKeyId: options.credentials.aws_access_key_id,
          secretAccessKey: options.credentials.aws_secret_access_key,
          sessionToken: options.credentials.aws_session_token,
        }
      : undefined,
    requestChecksumCalculation: upper(config.request_checksum_calculation),
    responseChecksumValidation: upper(config.response_checksum_validation),
    maxAttempts: config.retries?.max_attempts,
    retryMode: config.retries?.mode === 'adaptive' ? 'adaptive' : config.retries?.mode ? 'standard' : undefined,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: config.connect_timeout !== undefined ? config.connect_timeout * 1000 : 10_000,
      requestTimeout: config.read_timeout !== undefined ? config.read_timeout * 1000 : 120_000,
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent({ ...agentOptions, rejectUnauthorized: client.verify !== false }),
    }),
  };
}

/** Part size for part `partNumber` (1-based). */
export function partSizeFor(partNumber: number, configuredBytes: number, declaredSizeBytes: number | undefined): number {
  return growingPartSize(
    partNumber,
    { configuredBytes, minBytes: MIN_PART_BYTES, maxBytes: MAX_PART_BYTES, maxParts: MAX_PARTS, partsPerStep: PARTS_PER_SIZE_STEP },
    declaredSizeBytes,
  );
}

/**
 * S3 and S3-compatible servers. Uploads are multipart with at most `partsInFlight` parts
 * uploading at once (memory: part size x (partsInFlight + 1)); an object smaller than one part
 * goes up in a single PUT. The sha256 is object metadata when known before the first request
 * (single PUT), otherwise a sidecar under `.abus/meta/` tied to the object's ETag.
 */
export class S3Backend implements StorageBackend {
  readonly location: S3Location;
  private readonly client: S3Client;

  /** Backends with the same scope reach the same service with the same credentials: they can copy server-side. */
  private readonly scope: string;

  constructor(private readonly options: S3BackendOptions) {
    this.location = options.location;
    this.client = new S3Client(s3ClientConfig(options));
    this.scope = JSON.stringify([options.clientKwargs?.endpoint_url, options.clientKwargs?.region_name, options.credentials ?? null]);
  }

  async copyFrom(source: StorageBackend, sourceKey: string, object: ObjectInfo, key: string): Promise<{ sizeBytes: number; sha256: string } | null> {
    // CopyObject takes objects up to 5 GiB; larger ones are streamed (a multipart copy would also do).
    if (!(source instanceof S3Backend) || source.scope !== this.scope || !object.sha256 || object.sizeBytes > MAX_PART_BYTES) return null;
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.location.bucket,
          Key: this.objectKey(key),
          // URL-encoded segment by segment: S3-compatible servers differ on an encoded "/".
          CopySource: `${source.location.bucket}/${source.objectKey(sourceKey).split('/').map(encodeURIComponent).join('/')}`,
          // The source's digest goes on the copy itself, as for a single-part upload.
          MetadataDirective: 'REPLACE',
          Metadata: { ...object.metadata, [SHA256_METADATA]: object.sha256 },
          ContentType: object.contentType ?? undefined,
          ...(this.options.additionalKwargs ?? {}),
        }),
      );
      const copied = await this.stat(key);
      if (copied.sizeBytes !== object.sizeBytes) {
        await this.delete(key);
        throw new AbusError('SIZE_MISMATCH', `the server-side copy of "${sourceKey}" has ${copied.sizeBytes} bytes, not ${object.sizeBytes}`);
      }
      // A multi-part object copied before may have left a sidecar that no longer matches: drop it.
      await this.client.send(new DeleteObjectsCommand({ Bucket: this.location.bucket, Delete: { Objects: [{ Key: this.metaKey(key) }], Quiet: true } }));
      return { sizeBytes: copied.sizeBytes, sha256: object.sha256 };
    } catch (error) {
      throw mapS3Error(error, key);
    }
  }

  uri(key: string): string {
    return objectUri(this.location, key);
  }

  private objectKey(key: string): string {
    return this.location.prefix ? `${this.location.prefix}/${key}` : key;
  }

  private metaKey(key: string): string {
    return this.objectKey(`${RESERVED_PREFIX}meta/${key}.json`);
  }

  async put(key: string, body: VerifiedBody, options: PutOptions = {}): Promise<{ sizeBytes: number; sha256: string }> {
    const Bucket = this.location.bucket;
    const Key = this.objectKey(key);
    const writeOptions = { ContentType: options.contentType, ...(this.options.additionalKwargs ?? {}) };
    const parts: { PartNumber: number; ETag: string }[] = [];
    let uploadId: string | undefined;
    try {
      const uploaded = await uploadInParts(body, {
        partSizeFor: (n) => partSizeFor(n, this.options.partSizeBytes, options.sizeBytes),
        partsInFlight: this.options.partsInFlight,
        maxParts: MAX_PARTS,
        begin: async () => {
          uploadId = (await this.client.send(new CreateMultipartUploadCommand({ Bucket, Key, ...writeOptions, Metadata: options.metadata }))).UploadId;
        },
        uploadPart: async (data, PartNumber) => {
          const response = await this.client.send(new UploadPartCommand({ Bucket, Key, UploadId: uploadId, PartNumber, Body: data, ContentLength: data.length }));
          parts.push({ PartNumber, ETag: response.ETag ?? '' });
        },
      });
      const { sizeBytes, sha256 } = body.result();
      if (uploaded.kind === 'single') {
        // Known before the only request: the digest goes on the object itself.
        await this.client.send(
          new PutObjectCommand({ Bucket, Key, Body: uploaded.data, ContentLength: uploaded.data.length, ...writeOptions, Metadata: { ...options.metadata, [SHA256_METADATA]: sha256 } }),
        );
        return { sizeBytes, sha256 };
      }
      parts.sort((a, b) => a.PartNumber - b.PartNumber);
      const completed = await this.client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
      uploadId = undefined;
      const record: DigestRecord = { sha256, version: normaliseEtag(completed.ETag) };
      await this.client.send(new PutObjectCommand({ Bucket, Key: this.metaKey(key), Body: JSON.stringify(record), ContentType: 'application/json' }));
      return { sizeBytes, sha256 };
    } catch (error) {
      if (uploadId) await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: uploadId })).catch(() => undefined);
      throw mapS3Error(error, key);
    }
  }

  async stat(key: string): Promise<ObjectInfo> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key) }));
      const { [SHA256_METADATA]: stored, ...metadata } = head.Metadata ?? {};
      return {
        key,
        sizeBytes: head.ContentLength ?? 0,
        sha256: stored ?? (await this.sidecarDigest(key, normaliseEtag(head.ETag))),
        modifiedAt: (head.LastModified ?? new Date(0)).toISOString(),
        contentType: head.ContentType ?? null,
        metadata,
      };
    } catch (error) {
      throw mapS3Error(error, key);
    }
  }

  private async sidecarDigest(key: string, etag: string): Promise<string | null> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.metaKey(key) }));
      const record = JSON.parse((await response.Body?.transformToString()) ?? '') as DigestRecord;
      return record.version === etag ? record.sha256 : null;
    } catch {
      return null;
    }
  }

  async get(key: string, range?: ReadRange): Promise<ObjectRead> {
    const object = await this.stat(key);
    const clipped = clipRange(object, range);
    if (clipped.length === 0) return { object, offset: clipped.offset, sizeBytes: 0, body: emptyBody() };
    try {
      const response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.location.bucket,
          Key: this.objectKey(key),
          Range: `bytes=${clipped.offset}-${clipped.offset + clipped.length - 1}`,
        }),
      );
      const body = response.Body as AsyncIterable<Uint8Array> | undefined;
      if (!body) throw new AbusError('BACKEND_ERROR', `s3 returned no body for "${key}"`);
      return { object, offset: clipped.offset, sizeBytes: clipped.length, body };
    } catch (error) {
      throw mapS3Error(error, key);
    }
  }

  async list(prefix: string, page: { pageSize: number; pageToken?: string }): Promise<ListPage> {
    const rootPrefix = this.location.prefix ? `${this.location.prefix}/` : '';
    try {
      const response = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.location.bucket,
          Prefix: rootPrefix + prefix,
          MaxKeys: page.pageSize,
          ContinuationToken: page.pageToken,
        }),
      );
      const objects = (response.Contents ?? [])
        .map((item) => ({ key: (item.Key ?? '').slice(rootPrefix.length), sizeBytes: item.Size ?? 0, modifiedAt: (item.LastModified ?? new Date(0)).toISOString() }))
        .filter((item) => item.key !== '' && !item.key.startsWith(RESERVED_PREFIX));
      return response.IsTruncated && response.NextContinuationToken ? { objects, nextPageToken: response.NextContinuationToken } : { objects };
    } catch (error) {
      throw mapS3Error(error, prefix);
    }
  }

  async delete(key: string): Promise<boolean> {
    const exists = await this.stat(key).then(
      () => true,
      (error: AbusError) => {
        if (error.code === 'OBJECT_NOT_FOUND') return false;
        throw error;
      },
    );
    if (!exists) return false;
    try {
      await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.location.bucket,
          Delete: { Objects: [{ Key: this.objectKey(key) }, { Key: this.metaKey(key) }], Quiet: true },
        }),
      );
      return true;
    } catch (error) {
      throw mapS3Error(error, key);
    }
  }

  async deploy(): Promise<Deployment> {
    const Bucket = this.location.bucket;
    const resource = `s3://${Bucket}`;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket }));
      return { resource, created: false };
    } catch (error) {
      const status = (error as S3ServiceException)?.$metadata?.httpStatusCode;
      if (status === 301) {
        throw new AbusError('BACKEND_ERROR', `bucket "${Bucket}" exists in another region than the store's; set client_kwargs.region_name to its region`);
      }
      if (status !== 404) throw mapS3Error(error, resource);
    }
    // Outside us-east-1, S3 wants the region named in the request as well as in the endpoint.
    const region = await this.client.config.region();
    try {
      await this.client.send(
        new CreateBucketCommand({
          Bucket,
          ...(region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } } : {}),
        }),
      );
      return { resource, created: true };
    } catch (error) {
      const name = (error as { name?: string })?.name;
      if (name === 'BucketAlreadyOwnedByYou') return { resource, created: false };
      if (name === 'BucketAlreadyExists') throw new AbusError('BACKEND_ERROR', `bucket "${Bucket}" belongs to another account (bucket names are global); choose another`);
      throw mapS3Error(error, resource);
    }
  }

  close(): void {
    this.client.destroy();
  }
}

function normaliseEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/"/g, '');
}

const ACCESS_ERRORS = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'AllAccessDisabled']);
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'TimeoutError', 'RequestTimeout']);

/** Turns SDK errors into stable codes; the SDK's messages never contain credentials. */
export function mapS3Error(error: unknown, key: string): AbusError {
  if (error instanceof AbusError) return error;
  const name = (error as { name?: string })?.name ?? '';
  const code = (error as { code?: string })?.code ?? '';
  const status = (error as S3ServiceException)?.$metadata?.httpStatusCode;
  if (name === 'NoSuchKey' || name === 'NotFound' || (status === 404 && name !== 'NoSuchBucket')) {
    return new AbusError('OBJECT_NOT_FOUND', `no object "${key}"`);
  }
  if (name === 'NoSuchBucket') return new AbusError('BACKEND_ERROR', 'the store\'s bucket does not exist');
  if (ACCESS_ERRORS.has(name) || status === 403) return new AbusError('ACCESS_DENIED', `s3 refused the store's credentials (${name || status})`);
  if (name === 'InvalidRange' || status === 416) return new AbusError('RANGE_NOT_SATISFIABLE', `range not satisfiable for "${key}"`);
  if (name === 'PreconditionFailed' || status === 412) return new AbusError('BACKEND_ERROR', `"${key}" changed while it was being read`);
  if (NETWORK_ERRORS.has(code) || NETWORK_ERRORS.has(name) || (status !== undefined && status >= 500)) {
    return new AbusError('BACKEND_UNAVAILABLE', `s3 is unreachable or failing (${code || name || status})`);
  }
  return new AbusError('BACKEND_ERROR', `s3 error ${name || code || status || 'unknown'} on "${key}"`, { cause: error });
}
