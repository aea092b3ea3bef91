export { ArtifactBusClient, type ClientOptions, type DownloadOptions, type DownloadStream, type StoreName, type UploadOptions } from './client.ts';
export { AbusError, type ArtifactEvent, type ErrorCode, type JobState, type TransferResult } from '@artifact-bus/contracts';
