import { AbusError, AzureClientKwargs, parseStorePath, S3AdditionalKwargs, S3ClientKwargs, S3ConfigKwargs, type ResolvedStore } from '@artifact-bus/contracts';
import type { StorageBackend } from './backend.ts';
import { AzureBackend } from './azure-backend.ts';
import { LocalBackend } from './local-backend.ts';
import { S3Backend, type S3Credentials } from './s3-backend.ts';

export interface BackendTuning {
  partSizeBytes: number;
  partsInFlight: number;
}

/** The one place that picks a backend by flavor. */
export function createBackend(resolved: ResolvedStore, tuning: BackendTuning): StorageBackend {
  const { store, credentials } = resolved;
  const location = parseStorePath(store.flavor, store.path);
  switch (location.flavor) {
    case 'local':
      return new LocalBackend(location);
    case 's3':
      return new S3Backend({
        location,
        clientKwargs: S3ClientKwargs.parse(store.clientKwargs ?? {}),
        configKwargs: S3ConfigKwargs.parse(store.configKwargs ?? {}),
        additionalKwargs: S3AdditionalKwargs.parse(store.s3AdditionalKwargs ?? {}),
        credentials: credentials ? s3Credentials(store.name, credentials) : undefined,
        ...tuning,
      });
    case 'azure':
      return new AzureBackend({
        location,
        clientKwargs: AzureClientKwargs.parse(store.clientKwargs ?? {}),
        credentials: credentials ?? undefined,
        ...tuning,
      });
  }
}

function s3Credentials(store: string, values: Record<string, string>): S3Credentials {
  const { aws_access_key_id, aws_secret_access_key, aws_session_token } = values;
  if (!aws_access_key_id || !aws_secret_access_key) {
    throw new AbusError('ACCESS_DENIED', `the secret of store "${store}" needs aws_access_key_id and aws_secret_access_key`);
  }
  return { aws_access_key_id, aws_secret_access_key, aws_session_token };
}
