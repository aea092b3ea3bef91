import { AbusError, AzureClientKwargs, parseStorePath, S3AdditionalKwargs, S3ClientKwargs, S3ConfigKwargs, type ResolvedStore } from '@artifact-bus/contracts';
import type { StorageBackend } from './backend.ts';
import type { S3Credentials } from './s3-backend.ts';

export interface BackendTuning {
  partSizeBytes: number;
  partsInFlight: number;
}

/**
 * The one place that picks a backend by flavor. Each backend (and its cloud SDK, tens of MiB
 * resident) is loaded the first time a store of its flavor is used, so a worker carries only
 * the SDKs its stores need.
 */
export async function createBackend(resolved: ResolvedStore, tuning: BackendTuning): Promise<StorageBackend> {
  const { store, credentials } = resolved;
  const location = parseStorePath(store.flavor, store.path);
  switch (location.flavor) {
    case 'local': {
      const { LocalBackend } = await import('./local-backend.ts');
      return new LocalBackend(location);
    }
    case 's3': {
      const { S3Backend } = await import('./s3-backend.ts');
      return new S3Backend({
        location,
        clientKwargs: S3ClientKwargs.parse(store.clientKwargs ?? {}),
        configKwargs: S3ConfigKwargs.parse(store.configKwargs ?? {}),
        additionalKwargs: S3AdditionalKwargs.parse(store.s3AdditionalKwargs ?? {}),
        credentials: credentials ? s3Credentials(store.name, credentials) : undefined,
        ...tuning,
      });
    }
    case 'azure': {
      const { AzureBackend } = await import('./azure-backend.ts');
      return new AzureBackend({
        location,
        clientKwargs: AzureClientKwargs.parse(store.clientKwargs ?? {}),
        credentials: credentials ?? undefined,
        ...tuning,
      });
    }
  }
}

function s3Credentials(store: string, values: Record<string, string>): S3Credentials {
  const { aws_access_key_id, aws_secret_access_key, aws_session_token } = values;
  if (!aws_access_key_id || !aws_secret_access_key) {
    throw new AbusError('ACCESS_DENIED', `the secret of store "${store}" needs aws_access_key_id and aws_secret_access_key`);
  }
  return { aws_access_key_id, aws_secret_access_key, aws_session_token };
}
