export * from './backend.ts';
export { LocalBackend } from './local-backend.ts';
export { S3Backend, s3ClientConfig, mapS3Error, partSizeFor, type S3BackendOptions } from './s3-backend.ts';
export { AzureBackend, azureServiceClient, blockSizeFor, mapAzureError, type AzureBackendOptions } from './azure-backend.ts';
export { uploadInParts, growingPartSize } from './parted-upload.ts';
export { createBackend, type BackendTuning } from './create-backend.ts';
