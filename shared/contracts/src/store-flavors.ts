import path from 'node:path';
import { z } from 'zod';
import { AbusError } from './errors.ts';
import { ResourceName } from './keys.ts';

/**
 * Store flavors and their options. The option names follow ZenML's artifact-store docs
 * (`client_kwargs`, `config_kwargs`, `s3_additional_kwargs`), so configurations carry over.
 * Adding a flavor means adding its path parser and option schemas here and a backend in
 * @artifact-bus/storage; nothing else branches on the flavor.
 */
export const StoreFlavor = z.enum(['local', 's3', 'azure']);
export type StoreFlavor = z.infer<typeof StoreFlavor>;

/** s3 `client_kwargs`: what boto3's client() takes, mapped onto AWS SDK v3 by the s3 backend. */
export const S3ClientKwargs = z.strictObject({
  endpoint_url: z.url({ protocol: /^https?$/ }).optional(),
  region_name: z.string().min(1).max(64).optional(),
  /** false disables TLS certificate verification (self-signed MinIO/Ceph endpoints). */
  verify: z.boolean().optional(),
});

/** s3 `config_kwargs`: botocore Config options that have an AWS SDK v3 equivalent. */
export const S3ConfigKwargs = z.strictObject({
  s3: z.strictObject({ addressing_style: z.enum(['auto', 'path', 'virtual']).optional() }).optional(),
  /** Some S3-compatible servers reject the SDK's default CRC32 request checksums: use when_required. */
  request_checksum_calculation: z.enum(['when_supported', 'when_required']).optional(),
  response_checksum_validation: z.enum(['when_supported', 'when_required']).optional(),
  retries: z
    .strictObject({
      max_attempts: z.int().min(1).max(20).optional(),
      mode: z.enum(['standard', 'adaptive', 'legacy']).optional(),
    })
    .optional(),
  /** Seconds, as in botocore. */
  connect_timeout: z.number().positive().max(600).optional(),
  /** Seconds, as in botocore. */
  read_timeout: z.number().positive().max(3600).optional(),
});

/** s3 `s3_additional_kwargs`: applied to every write. */
export const S3AdditionalKwargs = z.strictObject({
  ServerSideEncryption: z.enum(['AES256', 'aws:kms', 'aws:kms:dsse']).optional(),
  SSEKMSKeyId: z.string().min(1).max(2048).optional(),
  ACL: z
    .enum(['private', 'public-read', 'public-read-write', 'authenticated-read', 'aws-exec-read', 'bucket-owner-read', 'bucket-owner-full-control'])
    .optional(),
  StorageClass: z
    .enum(['STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER', 'DEEP_ARCHIVE', 'GLACIER_IR', 'EXPRESS_ONEZONE'])
    .optional(),
});

/** azure `client_kwargs`: where the blob service is, when not `https://<account>.blob.core.windows.net`. */
export const AzureClientKwargs = z.strictObject({
  /** Blob endpoint: Azurite (`http://127.0.0.1:10000/devstoreaccount1`), sovereign clouds, private endpoints. */
  account_url: z.url({ protocol: /^https?$/ }).optional(),
  account_name: z.string().regex(/^[a-z0-9]{3,24}$/, 'a storage account name: 3-24 lowercase letters and digits').optional(),
});

const JsonObject = z.record(z.string(), z.unknown());

/** What a user registers: the flavor, the root path URI and the flavor's options. */
export const StoreDefinition = z.object({
  flavor: StoreFlavor,
  path: z.string().min(1).max(2048),
  authenticationSecret: ResourceName.optional(),
  clientKwargs: JsonObject.optional(),
  configKwargs: JsonObject.optional(),
  s3AdditionalKwargs: JsonObject.optional(),
});
export type StoreDefinition = z.infer<typeof StoreDefinition>;

export type S3Location = { flavor: 's3'; bucket: string; prefix: string };
export type LocalLocation = { flavor: 'local'; directory: string };
/** `account` is known when the path names it (`abfs://container@account.dfs.core.windows.net/...`). */
export type AzureLocation = { flavor: 'azure'; container: string; prefix: string; account?: string };
export type StoreLocation = S3Location | LocalLocation | AzureLocation;

// Container naming rules of Azure: 3-63 chars, lowercase letters, digits and single hyphens.
const CONTAINER = /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/;

// Bucket naming rules of S3 (3-63 chars, lowercase, digits, dots, hyphens); MinIO and Ceph follow them.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function invalidPath(flavor: string, value: string, why: string): AbusError {
  return new AbusError('INVALID_STORE_PATH', `invalid ${flavor} path "${value}": ${why}`);
}

function parsePrefix(flavor: string, value: string, rest: string): string {
  const trimmed = rest.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  for (const segment of trimmed.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw invalidPath(flavor, value, 'the prefix must not contain empty, "." or ".." segments');
    }
  }
  return trimmed;
}

/** Parses a store's root path URI for its flavor; throws INVALID_STORE_PATH saying why. */
export function parseStorePath(flavor: StoreFlavor, value: string): StoreLocation {
  switch (flavor) {
    case 's3': {
      const match = /^s3:\/\/([^/]*)(\/.*)?$/.exec(value);
      if (!match) throw invalidPath('s3', value, 'expected s3://bucket[/prefix]');
      const bucket = match[1] ?? '';
      if (!BUCKET.test(bucket) || bucket.includes('..')) {
        throw invalidPath('s3', value, `"${bucket}" is not a valid bucket name (3-63 lowercase letters, digits, "." or "-")`);
      }
      return { flavor: 's3', bucket, prefix: parsePrefix('s3', value, match[2] ?? '') };
    }
    case 'azure': {
      const match = /^(az|abfss?):\/\/([^/@]*)(?:@([^/]*))?(\/.*)?$/.exec(value);
      if (!match) throw invalidPath('azure', value, 'expected az://container[/prefix] or abfs://container[@account.dfs.core.windows.net][/prefix]');
      const container = match[2] ?? '';
      if (!CONTAINER.test(container)) {
        throw invalidPath('azure', value, `"${container}" is not a valid container name (3-63 lowercase letters, digits and single "-")`);
      }
      let account: string | undefined;
      if (match[3] !== undefined) {
        const host = /^([a-z0-9]{3,24})\.(?:dfs|blob)\.[a-z0-9.-]+$/.exec(match[3]);
        if (match[1] === 'az' || !host) throw invalidPath('azure', value, 'expected container@account.dfs.core.windows.net after abfs://');
        account = host[1];
      }
      return { flavor: 'azure', container, prefix: parsePrefix('azure', value, match[4] ?? ''), ...(account ? { account } : {}) };
    }
    case 'local': {
      const directory = value.startsWith('file://') ? decodeURIComponent(value.slice('file://'.length)) : value;
      if (!path.isAbsolute(directory)) throw invalidPath('local', value, 'expected an absolute directory');
      if (directory.split(/[\\/]/).includes('..')) throw invalidPath('local', value, 'must not contain ".." segments');
      return { flavor: 'local', directory: path.resolve(directory) };
    }
  }
}

/** The URI of `key` inside a store, as it appears in events (`s3://bucket/prefix/key`, `file:///dir/key`). */
export function objectUri(location: StoreLocation, key: string): string {
  switch (location.flavor) {
    case 's3':
      return `s3://${location.bucket}/${location.prefix ? `${location.prefix}/` : ''}${key}`;
    case 'azure':
      return `az://${location.container}/${location.prefix ? `${location.prefix}/` : ''}${key}`;
    case 'local':
      return `file://${path.posix.join(location.directory.split(path.sep).join('/'), key)}`;
  }
}

function optionError(flavor: string, field: string, error: z.ZodError): AbusError {
  const problems = error.issues.map((issue) => {
    const where = [field, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') {
      return `${where}: unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (no ${flavor} equivalent)`;
    }
    return `${where}: ${issue.message}`;
  });
  return new AbusError('INVALID_STORE_OPTION', `invalid ${flavor} store option: ${problems.join('; ')}`);
}

const optionSchemas = {
  s3: { clientKwargs: S3ClientKwargs, configKwargs: S3ConfigKwargs, s3AdditionalKwargs: S3AdditionalKwargs },
  azure: { clientKwargs: AzureClientKwargs },
  local: {},
} satisfies Record<StoreFlavor, Partial<Record<'clientKwargs' | 'configKwargs' | 's3AdditionalKwargs', z.ZodType>>>;

const optionFlags = { clientKwargs: 'client_kwargs', configKwargs: 'config_kwargs', s3AdditionalKwargs: 's3_additional_kwargs' } as const;

/** Checks a definition's path and options against its flavor; returns it normalised. */
export function validateStoreDefinition(definition: StoreDefinition): StoreDefinition {
  parseStorePath(definition.flavor, definition.path);
  const schemas: Partial<Record<keyof typeof optionFlags, z.ZodType>> = optionSchemas[definition.flavor];
  for (const field of Object.keys(optionFlags) as (keyof typeof optionFlags)[]) {
    const value = definition[field];
    if (value === undefined || Object.keys(value).length === 0) continue;
    const schema = schemas[field];
    if (!schema) {
      throw new AbusError('INVALID_STORE_OPTION', `the ${definition.flavor} flavor takes no ${optionFlags[field]}`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw optionError(definition.flavor, optionFlags[field], parsed.error);
  }
  return definition;
}
