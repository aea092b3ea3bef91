import { describe, expect, it } from 'vitest';
import { blockSizeFor } from './azure-backend.ts';
import { uploadInParts } from './parted-upload.ts';
import { partSizeFor } from './s3-backend.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

/** How many parts of the sizes `sizeFor` gives hold `total` bytes. */
function partsFor(total: number, sizeFor: (n: number) => number): { parts: number; largest: number } {
  let parts = 0;
  let held = 0;
  let largest = 0;
  while (held < total) {
    const size = sizeFor(++parts);
    largest = Math.max(largest, size);
    held += size;
  }
  return { parts, largest };
}

describe('part sizes', () => {
  it('fit any declared s3 object (up to 5 TiB) in 10,000 parts of 5 MiB to 5 GiB', () => {
    for (const total of [0, 1, 5 * MiB, 80 * GiB, 5 * TiB]) {
      const { parts, largest } = partsFor(total, (n) => partSizeFor(n, 8 * MiB, total));
      expect(parts).toBeLessThanOrEqual(10_000);
      expect(largest).toBeLessThanOrEqual(5 * GiB);
      expect(partSizeFor(1, 8 * MiB, total)).toBeGreaterThanOrEqual(5 * MiB);
    }
  });

  it('fit an s3 stream of unknown size up to 5 TiB in 10,000 parts, growing as it goes', () => {
    expect(partsFor(5 * TiB, (n) => partSizeFor(n, 8 * MiB, undefined)).parts).toBeLessThanOrEqual(10_000);
    expect(partSizeFor(1, 8 * MiB, undefined)).toBe(8 * MiB);
  });

  it('fit any declared azure blob (up to 50,000 x 4,000 MiB) in 50,000 blocks', () => {
    for (const total of [1, 400 * GiB, 50_000 * 4000 * MiB]) {
      const { parts, largest } = partsFor(total, (n) => blockSizeFor(n, 8 * MiB, total));
      expect(parts).toBeLessThanOrEqual(50_000);
      expect(largest).toBeLessThanOrEqual(4000 * MiB);
    }
  });

  it('fit an azure stream of unknown size up to 150 TiB in 50,000 blocks', () => {
    expect(partsFor(150 * TiB, (n) => blockSizeFor(n, 8 * MiB, undefined)).parts).toBeLessThanOrEqual(50_000);
  });
});

describe('uploadInParts', () => {
  async function* bytes(total: number, piece = 1000): AsyncGenerator<Uint8Array> {
    for (let sent = 0; sent < total; sent += piece) yield new Uint8Array(Math.min(piece, total - sent));
  }

  it('returns a body shorter than one part whole, for a single request', async () => {
    const result = await uploadInParts(bytes(2500), { partSizeFor: () => 4096, partsInFlight: 2, maxParts: 10, begin: async () => {}, uploadPart: async () => {} });
    expect(result.kind).toBe('single');
    expect(result.kind === 'single' && result.data.length).toBe(2500);
  });

  it('uploads every part, never more than partsInFlight at once', async () => {
    let running = 0;
    let most = 0;
    const sizes: number[] = [];
    const result = await uploadInParts(bytes(10 * 4096 + 5), {
      partSizeFor: () => 4096,
      partsInFlight: 3,
      maxParts: 100,
      begin: async () => {},
      uploadPart: async (data, n) => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        sizes[n - 1] = data.length;
        running--;
      },
    });
    expect(result).toEqual({ kind: 'parts', count: 11 });
    expect(sizes).toEqual([...Array(10).fill(4096), 5]);
    expect(most).toBeLessThanOrEqual(3);
  });

  it('fails after the parts still uploading have settled, so an abort comes last', async () => {
    const settled: number[] = [];
    const attempt = uploadInParts(bytes(8 * 4096), {
      partSizeFor: () => 4096,
      partsInFlight: 4,
      maxParts: 100,
      begin: async () => {},
      uploadPart: async (_data, n) => {
        await new Promise((resolve) => setTimeout(resolve, n === 2 ? 1 : 20));
        settled.push(n);
        if (n === 2) throw new Error('part 2 refused');
      },
    });
    await expect(attempt).rejects.toThrow('part 2 refused');
    const count = settled.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled.length).toBe(count);
  });

  it('refuses a body that needs more parts than the backend allows', async () => {
    await expect(uploadInParts(bytes(5 * 4096), { partSizeFor: () => 4096, partsInFlight: 1, maxParts: 3, begin: async () => {}, uploadPart: async () => {} })).rejects.toMatchObject({
      code: 'BACKEND_ERROR',
    });
  });
});
