import { createReadStream, createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ContainerClient } from '@azure/storage-blob';
import type { ArtifactBusClient, StoreName } from '@artifact-bus/client';

/** The transfers the benchmark times: through the stack, and the same bytes directly from this process. */

export async function uploadThroughStack(client: ArtifactBusClient, store: StoreName, key: string, file: string, sizeBytes: number): Promise<string> {
  const result = await client.upload(store, key, createReadStream(file), { sizeBytes });
  return result.sha256;
}

export async function downloadThroughStack(client: ArtifactBusClient, store: StoreName, key: string, target: string): Promise<void> {
  await pipeline(await client.download(store, key), createWriteStream(target));
}

/** Multipart with the worker's part size and parallelism, so the two differ only by the stack in between. */
export async function uploadDirectToS3(
  s3: S3Client,
  bucket: string,
  key: string,
  file: string,
  tuning: { partSizeBytes: number; partsInFlight: number },
): Promise<void> {
  const upload = new Upload({
    client: s3,
    params: { Bucket: bucket, Key: key, Body: createReadStream(file) },
    partSize: tuning.partSizeBytes,
    queueSize: tuning.partsInFlight,
    leavePartsOnError: false,
  });
  await upload.done();
}

export async function downloadDirectFromS3(s3: S3Client, bucket: string, key: string, target: string): Promise<void> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  await pipeline(response.Body as Readable, createWriteStream(target));
}

/**
 * A plain stream copy. `durable` syncs the copy to disk before it counts as done, as the local
 * store does before it renames an upload into place: the baseline of a local upload pays for it too.
 */
export async function copyFileStream(source: string, target: string, options: { durable: boolean }): Promise<void> {
  await pipeline(createReadStream(source), createWriteStream(target, { flush: options.durable }));
}

/** Staged blocks of the worker's part size, as many at once as the worker uploads parts. */
export async function uploadDirectToAzure(
  container: ContainerClient,
  blobName: string,
  source: Readable,
  tuning: { partSizeBytes: number; partsInFlight: number },
): Promise<void> {
  await container.getBlockBlobClient(blobName).uploadStream(source, tuning.partSizeBytes, tuning.partsInFlight);
}

export async function downloadDirectFromAzure(container: ContainerClient, blobName: string, target: string): Promise<void> {
  const response = await container.getBlockBlobClient(blobName).download();
  await pipeline(response.readableStreamBody as Readable, createWriteStream(target));
}

/** The direct equivalent of a store-to-store copy: GetObject streamed into staged blocks, in one process. */
export async function copyDirectS3ToAzure(
  s3: S3Client,
  bucket: string,
  key: string,
  container: ContainerClient,
  blobName: string,
  tuning: { partSizeBytes: number; partsInFlight: number },
): Promise<void> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  await uploadDirectToAzure(container, blobName, response.Body as Readable, tuning);
}
