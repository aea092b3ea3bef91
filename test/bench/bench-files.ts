import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash, randomFill } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

const PIECE_BYTES = 1024 * 1024;

function randomPiece(sizeBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => randomFill(Buffer.allocUnsafe(sizeBytes), (error, piece) => (error ? reject(error) : resolve(piece))));
}

/** Writes `sizeBytes` random bytes to `file` a piece at a time (never the whole file in memory); returns their sha256. */
export async function writeRandomFile(file: string, sizeBytes: number): Promise<string> {
  const hash = createHash('sha256');
  async function* pieces(): AsyncGenerator<Buffer> {
    for (let written = 0; written < sizeBytes; written += PIECE_BYTES) {
      const piece = await randomPiece(Math.min(PIECE_BYTES, sizeBytes - written));
      hash.update(piece);
      yield piece;
    }
  }
  await pipeline(pieces(), createWriteStream(file));
  return hash.digest('hex');
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(file, { highWaterMark: PIECE_BYTES })) hash.update(piece as Buffer);
  return hash.digest('hex');
}

/**
 * Writes dirty pages back before a measurement, so that one measurement does not pay for the
 * writeback of the files the one before it left in the page cache.
 */
export async function flushDirtyPages(): Promise<void> {
  await once(spawn('sync', { stdio: 'ignore' }), 'exit');
}

/** Polls for this process, then removes the folder: a CommonJS script for `node -e`, given the pid and the folder. */
const REMOVE_WHEN_GONE = `
const [pid, folder] = process.argv.slice(1);
const timer = setInterval(() => {
  try { process.kill(Number(pid), 0); } catch {
    clearInterval(timer);
    require('node:fs').rmSync(folder, { recursive: true, force: true });
  }
}, 500);`;

/**
 * Removes `folder` once this process is gone, however it ends. tsx's CLI kills its child with
 * SIGKILL when the child does not acknowledge a Ctrl-C within 30 ms, which a loaded machine
 * misses: then no handler of ours runs, and this detached watcher is what removes the files.
 */
export function removeWhenGone(folder: string): void {
  spawn(process.execPath, ['-e', REMOVE_WHEN_GONE, String(process.pid), folder], { detached: true, stdio: 'ignore' }).unref();
}
