import { AbusError } from '@artifact-bus/contracts';

export interface PartedUploadOptions {
  /** Size of part `partNumber` (1-based): backends grow it to stay within their part limit. */
  partSizeFor(partNumber: number): number;
  /** Parts uploading at once; memory is at most (partsInFlight + 1) part buffers. */
  partsInFlight: number;
  maxParts: number;
  /** Called before the first part: create the multipart upload. */
  begin(): Promise<void>;
  uploadPart(data: Buffer, partNumber: number): Promise<void>;
}

export type PartedUploadResult = { kind: 'single'; data: Buffer } | { kind: 'parts'; count: number };

/**
 * Cuts a body into parts and uploads up to `partsInFlight` of them at once, pulling the next
 * chunk only when a part slot is free (backpressure all the way to the sender). A body shorter
 * than one part comes back whole, for a single PUT. On failure, waits for the parts still
 * uploading to settle, so the caller's abort is the last word, and rethrows.
 */
export async function uploadInParts(body: AsyncIterable<Uint8Array>, options: PartedUploadOptions): Promise<PartedUploadResult> {
  const inFlight = new Set<Promise<void>>();
  // Part failures are collected here rather than left as unobserved rejections.
  let failure: unknown;
  let partNumber = 1;
  // Buffers of finished parts are reused (at most partsInFlight + 1 exist): no garbage per part.
  const spare: Buffer[] = [];
  const takeBuffer = (size: number) => {
    const reused = spare.pop();
    return reused && reused.length === size ? reused : Buffer.allocUnsafe(size);
  };
  let buffer = takeBuffer(options.partSizeFor(1));
  let filled = 0;

  const startPart = async (data: Buffer): Promise<void> => {
    if (partNumber > options.maxParts) throw new AbusError('BACKEND_ERROR', `the object needs more than ${options.maxParts} parts`);
    if (partNumber === 1) await options.begin();
    const tracked: Promise<void> = options
      .uploadPart(data, partNumber++)
      .then(() => void spare.push(data))
      .catch((error: unknown) => void (failure ??= error))
      .finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    while (inFlight.size >= options.partsInFlight) await Promise.race(inFlight);
    if (failure) throw failure;
  };

  try {
    for await (const chunk of body) {
      let offset = 0;
      while (offset < chunk.byteLength) {
        const take = Math.min(buffer.length - filled, chunk.byteLength - offset);
        buffer.set(chunk.subarray(offset, offset + take), filled);
        filled += take;
        offset += take;
        if (filled === buffer.length) {
          await startPart(buffer);
          buffer = takeBuffer(options.partSizeFor(partNumber));
          filled = 0;
        }
      }
    }
    if (partNumber === 1) return { kind: 'single', data: buffer.subarray(0, filled) };
    if (filled > 0) await startPart(buffer.subarray(0, filled));
    await Promise.all(inFlight);
    if (failure) throw failure;
    return { kind: 'parts', count: partNumber - 1 };
  } catch (error) {
    await Promise.allSettled(inFlight);
    throw error;
  }
}

/**
 * Part size for part `partNumber`: at least `configuredBytes`; with a declared size, large
 * enough that `maxParts` parts hold it; without one, doubling every `partsPerStep` parts so that
 * `maxParts` parts reach the backend's largest object.
 */
export function growingPartSize(
  partNumber: number,
  limits: { configuredBytes: number; minBytes: number; maxBytes: number; maxParts: number; partsPerStep: number },
  declaredSizeBytes: number | undefined,
): number {
  const MiB = 1024 * 1024;
  const base = Math.max(limits.minBytes, limits.configuredBytes);
  if (declaredSizeBytes !== undefined) {
    const needed = Math.ceil(declaredSizeBytes / limits.maxParts / MiB) * MiB;
    return Math.min(limits.maxBytes, Math.max(base, needed));
  }
  return Math.min(limits.maxBytes, base * 2 ** Math.floor((partNumber - 1) / limits.partsPerStep));
}
