import { randomBytes } from 'node:crypto';
import { ClientSecretCredential, DefaultAzureCredential } from '@azure/identity';
import { AnonymousCredential, BlobSASPermissions, BlobServiceClient, RestError, StorageSharedKeyCredential, type ContainerClient } from '@azure/storage-blob';
import type { z } from 'zod';
import { AbusError, objectUri, RESERVED_PREFIX, type AzureClientKwargs, type AzureLocation, type ObjectInfo } from '@artifact-bus/contracts';
import { clipRange, emptyBody, type Deployment, type ListPage, type ObjectRead, type PutOptions, type ReadRange, type StorageBackend, type VerifiedBody } from './backend.ts';
import { growingPartSize, uploadInParts } from './parted-upload.ts';

/** A block blob holds at most 50,000 committed blocks of at most 4,000 MiB each. */
const MAX_BLOCKS = 50_000;
const MAX_BLOCK_BYTES = 4000 * 1024 * 1024;
const MIN_BLOCK_BYTES = 1024 * 1024;
/**
 * With no declared size (a stream from stdin), the block size doubles every this many blocks,
 * so 50,000 blocks hold about 156 TiB (Azure's limit is 190.7 TiB, reachable only by declaring
 * the size); the price is larger block buffers late in such a stream.
 */
const BLOCKS_PER_SIZE_STEP = 1_000;
/** Metadata names must be C# identifiers. */
const SHA256_METADATA = 'abus_sha256';
/** The largest blob Copy Blob From URL copies in one synchronous call. */
const SYNC_COPY_MAX_BYTES = 256 * 1024 * 1024;

/** Size of block `blockNumber` (1-based): with a declared size, 50,000 blocks always hold it. */
export function blockSizeFor(blockNumber: number, configuredBytes: number, declaredSizeBytes: number | undefined): number {
  return growingPartSize(
    blockNumber,
    { configuredBytes, minBytes: MIN_BLOCK_BYTES, maxBytes: MAX_BLOCK_BYTES, maxParts: MAX_BLOCKS, partsPerStep: BLOCKS_PER_SIZE_STEP },
    declaredSizeBytes,
  );
}

export interface AzureBackendOptions {
  location: AzureLocation;
  clientKwargs?: z.infer<typeof AzureClientKwargs>;
  /** From the store's secret; without them, the implicit chain (see azureServiceClient). */
  credentials?: Record<string, string>;
  partSizeBytes: number;
  partsInFlight: number;
  /** Where the implicit chain reads AZURE_* variables; the worker's environment by default. */
  env?: NodeJS.ProcessEnv;
}

/**
 * The blob service client for a store, from the first credential that applies:
 * the secret's `connection_string`; `account_name` + `account_key`; `account_name` + `sas_token`;
 * `account_name` + `client_id` + `client_secret` + `tenant_id` (Entra ID service principal).
 * Without a secret: AZURE_STORAGE_CONNECTION_STRING; AZURE_STORAGE_ACCOUNT_NAME +
 * AZURE_STORAGE_ACCOUNT_KEY; then DefaultAzureCredential (managed identity, Azure CLI, ...).
 * The account is the secret's `account_name`, else `client_kwargs.account_name`, else the
 * path's (`abfs://container@account.dfs.core.windows.net`), else AZURE_STORAGE_ACCOUNT_NAME.
 */
export function azureServiceClient(options: Pick<AzureBackendOptions, 'location' | 'clientKwargs' | 'credentials' | 'env'>): BlobServiceClient {
  const env = options.env ?? process.env;
  const secret = options.credentials;
  if (secret?.connection_string) return BlobServiceClient.fromConnectionString(secret.connection_string);
  if (!secret && env.AZURE_STORAGE_CONNECTION_STRING) return BlobServiceClient.fromConnectionString(env.AZURE_STORAGE_CONNECTION_STRING);
  const account = secret?.account_name ?? options.clientKwargs?.account_name ?? options.location.account ?? env.AZURE_STORAGE_ACCOUNT_NAME;
  const accountUrl = options.clientKwargs?.account_url ?? (account ? `https://${account}.blob.core.windows.net` : undefined);
  if (!account || !accountUrl) {
    throw new AbusError('ACCESS_DENIED', 'no storage account for this azure store: set account_name in its secret or client_kwargs, or abfs://container@account.dfs.core.windows.net');
  }
  if (secret) {
    if (secret.account_key) return new BlobServiceClient(accountUrl, new StorageSharedKeyCredential(account, secret.account_key));
    if (secret.sas_token) return new BlobServiceClient(`${accountUrl}?${secret.sas_token.replace(/^\?/, '')}`, new AnonymousCredential());
    if (secret.client_id && secret.client_secret && secret.tenant_id) {
      return new BlobServiceClient(accountUrl, new ClientSecretCredential(secret.tenant_id, secret.client_id, secret.client_secret));
    }
    throw new AbusError(
      'ACCESS_DENIED',
      'the azure store\'s secret needs connection_string, account_key, sas_token, or client_id + client_secret + tenant_id',
    );
  }
  if (env.AZURE_STORAGE_ACCOUNT_KEY) return new BlobServiceClient(accountUrl, new StorageSharedKeyCredential(account, env.AZURE_STORAGE_ACCOUNT_KEY));
  return new BlobServiceClient(accountUrl, new DefaultAzureCredential());
}

/**
 * Azure Blob Storage (and Azurite). Uploads stage blocks, up to `partsInFlight` at once, and
 * commit the block list only after the body verified; the sha256 goes into the blob's metadata
 * at commit. Differs from s3: an aborted upload of a new blob discards its staged blocks by
 * committing an empty list and deleting the empty blob at once; staged blocks of an aborted
 * overwrite of an existing blob stay invisible until the next commit of that blob discards them
 * (Azure drops them after 7 days), because discarding them would rewrite the existing blob.
 */
export class AzureBackend implements StorageBackend {
  readonly location: AzureLocation;
  private readonly container: ContainerClient;
  /** Backends with the same scope reach the same account with the same credentials: they can copy server-side. */
  private readonly scope: string;

  constructor(private readonly options: AzureBackendOptions) {
    this.location = options.location;
    this.container = azureServiceClient(options).getContainerClient(options.location.container);
    this.scope = JSON.stringify([this.container.accountName, options.clientKwargs?.account_url, options.credentials ?? null]);
  }

  async copyFrom(source: StorageBackend, sourceKey: string, object: ObjectInfo, key: string): Promise<{ sizeBytes: number; sha256: string } | null> {
    // Copy Blob From URL takes blobs up to 256 MiB and needs a SAS for its source, which an account key can sign.
    if (!(source instanceof AzureBackend) || source.scope !== this.scope || !object.sha256 || object.sizeBytes > SYNC_COPY_MAX_BYTES) return null;
    const sourceBlob = source.container.getBlockBlobClient(source.blobName(sourceKey));
    if (!(sourceBlob.credential instanceof StorageSharedKeyCredential)) return null;
    try {
      const sourceUrl = await sourceBlob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 3600_000) });
      const blob = this.container.getBlockBlobClient(this.blobName(key));
      await blob.syncCopyFromURL(sourceUrl, { metadata: { ...object.metadata, [SHA256_METADATA]: object.sha256 } });
      if (object.contentType) await blob.setHTTPHeaders({ blobContentType: object.contentType });
      const copied = await this.stat(key);
      if (copied.sizeBytes !== object.sizeBytes) {
        await this.delete(key);
        throw new AbusError('SIZE_MISMATCH', `the server-side copy of "${sourceKey}" has ${copied.sizeBytes} bytes, not ${object.sizeBytes}`);
      }
      return { sizeBytes: copied.sizeBytes, sha256: object.sha256 };
    } catch (error) {
      throw mapAzureError(error, key);
    }
  }

  uri(key: string): string {
    return objectUri(this.location, key);
  }

  private blobName(key: string): string {
    return this.location.prefix ? `${this.location.prefix}/${key}` : key;
  }

  async put(key: string, body: VerifiedBody, options: PutOptions = {}): Promise<{ sizeBytes: number; sha256: string }> {
    const blob = this.container.getBlockBlobClient(this.blobName(key));
    // One token per upload: block ids of concurrent uploads to the same blob never collide.
    const token = randomBytes(8).toString('hex');
    const blockId = (n: number) => Buffer.from(`${token}-${String(n).padStart(6, '0')}`).toString('base64');
    let blocks = 0;
    let existedBefore = true;
    try {
      const uploaded = await uploadInParts(body, {
        partSizeFor: (n) => blockSizeFor(n, this.options.partSizeBytes, options.sizeBytes),
        partsInFlight: this.options.partsInFlight,
        maxParts: MAX_BLOCKS,
        begin: async () => {
          existedBefore = await blob.exists();
        },
        uploadPart: async (data, n) => {
          await blob.stageBlock(blockId(n), data, data.length);
          blocks = Math.max(blocks, n);
        },
      });
      const { sizeBytes, sha256 } = body.result();
      const properties = { blobHTTPHeaders: { blobContentType: options.contentType }, metadata: { ...options.metadata, [SHA256_METADATA]: sha256 } };
      if (uploaded.kind === 'single') await blob.upload(uploaded.data, uploaded.data.length, properties);
      else await blob.commitBlockList(Array.from({ length: uploaded.count }, (_, i) => blockId(i + 1)), properties);
      return { sizeBytes, sha256 };
    } catch (error) {
      if (blocks > 0 && !existedBefore) await this.discardStagedBlocks(key);
      throw mapAzureError(error, key);
    }
  }

  /** A blob that never existed: commit nothing (dropping the staged blocks), then delete the empty blob. */
  private async discardStagedBlocks(key: string): Promise<void> {
    const blob = this.container.getBlockBlobClient(this.blobName(key));
    try {
      const committed = await blob.commitBlockList([], { conditions: { ifNoneMatch: '*' } });
      await blob.delete({ conditions: { ifMatch: committed.etag } });
    } catch {
      // Someone committed this blob meanwhile: their commit dropped our blocks already.
    }
  }

  async stat(key: string): Promise<ObjectInfo> {
    try {
      const properties = await this.container.getBlockBlobClient(this.blobName(key)).getProperties();
      const { [SHA256_METADATA]: sha256, ...metadata } = properties.metadata ?? {};
      return {
        key,
        sizeBytes: properties.contentLength ?? 0,
        sha256: sha256 ?? null,
        modifiedAt: (properties.lastModified ?? new Date(0)).toISOString(),
        contentType: properties.contentType ?? null,
        metadata,
      };
    } catch (error) {
      throw mapAzureError(error, key);
    }
  }

  async get(key: string, range?: ReadRange): Promise<ObjectRead> {
    const object = await this.stat(key);
    const clipped = clipRange(object, range);
    if (clipped.length === 0) return { object, offset: clipped.offset, sizeBytes: 0, body: emptyBody() };
    try {
      const response = await this.container.getBlockBlobClient(this.blobName(key)).download(clipped.offset, clipped.length, { maxRetryRequests: 3 });
      const body = response.readableStreamBody as AsyncIterable<Uint8Array> | undefined;
      if (!body) throw new AbusError('BACKEND_ERROR', `azure returned no body for "${key}"`);
      return { object, offset: clipped.offset, sizeBytes: clipped.length, body };
    } catch (error) {
      throw mapAzureError(error, key);
    }
  }

  async list(prefix: string, page: { pageSize: number; pageToken?: string }): Promise<ListPage> {
    const rootPrefix = this.location.prefix ? `${this.location.prefix}/` : '';
    try {
      const pages = this.container.listBlobsFlat({ prefix: rootPrefix + prefix }).byPage({ maxPageSize: page.pageSize, continuationToken: page.pageToken });
      const { value } = await pages.next();
      const objects = ((value?.segment.blobItems ?? []) as { name: string; properties: { contentLength?: number; lastModified: Date } }[])
        .map((item) => ({ key: item.name.slice(rootPrefix.length), sizeBytes: item.properties.contentLength ?? 0, modifiedAt: item.properties.lastModified.toISOString() }))
        .filter((item) => item.key !== '' && !item.key.startsWith(RESERVED_PREFIX));
      const next = value?.continuationToken;
      return next ? { objects, nextPageToken: next } : { objects };
    } catch (error) {
      throw mapAzureError(error, prefix);
    }
  }

  async delete(key: string): Promise<boolean> {
    try {
      return (await this.container.getBlockBlobClient(this.blobName(key)).deleteIfExists()).succeeded;
    } catch (error) {
      throw mapAzureError(error, key);
    }
  }

  async deploy(): Promise<Deployment> {
    const resource = `az://${this.location.container}`;
    try {
      return { resource, created: (await this.container.createIfNotExists()).succeeded };
    } catch (error) {
      throw mapAzureError(error, resource);
    }
  }

  close(): void {}
}

const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'REQUEST_SEND_ERROR']);

/** Turns SDK errors into stable codes; the SDK's messages never reach the requester. */
export function mapAzureError(error: unknown, key: string): AbusError {
  if (error instanceof AbusError) return error;
  const status = error instanceof RestError ? error.statusCode : undefined;
  const code = (error as { code?: string })?.code ?? '';
  if (code === 'ContainerNotFound') return new AbusError('BACKEND_ERROR', 'the store\'s container does not exist');
  if (status === 404 || code === 'BlobNotFound') return new AbusError('OBJECT_NOT_FOUND', `no object "${key}"`);
  if (status === 403 || status === 401 || code === 'AuthenticationFailed' || code === 'AuthorizationFailure' || (error as Error)?.name === 'CredentialUnavailableError') {
    return new AbusError('ACCESS_DENIED', `azure refused the store's credentials (${code || status || 'no credential'})`);
  }
  if (status === 416 || code === 'InvalidRange') return new AbusError('RANGE_NOT_SATISFIABLE', `range not satisfiable for "${key}"`);
  if (NETWORK_ERRORS.has(code) || (status !== undefined && status >= 500)) {
    return new AbusError('BACKEND_UNAVAILABLE', `azure is unreachable or failing (${code || status})`);
  }
  return new AbusError('BACKEND_ERROR', `azure error ${code || status || 'unknown'} on "${key}"`, { cause: error });
}
