// The backends themselves are subpath exports (`@artifact-bus/storage/local`, `/s3`, `/azure`):
// importing this index loads no cloud SDK; createBackend loads the one a store needs.
export * from './backend.ts';
export { uploadInParts, growingPartSize } from './parted-upload.ts';
export { createBackend, type BackendTuning } from './create-backend.ts';
