import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactBusClient } from '@artifact-bus/client';
import { collect, eventually, randomArtifact, startTestStack, streamOf, tempDir, type TestStack } from './harness/index.ts';

const MiB = 1024 * 1024;

/** A source that sends `first` bytes, then waits until `release` resolves before sending the rest. */
function pausedSource(bytes: Buffer, first: number, release: Promise<void>): AsyncGenerator<Uint8Array> {
  return (async function* () {
    yield bytes.subarray(0, first);
    await release;
    yield bytes.subarray(first);
  })();
}

describe('cancelling a transfer', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;

  beforeAll(async () => {
    stack = await startTestStack();
    client = await stack.client();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('cancels an upload under way: the client sees TRANSFER_ABORTED, nothing is stored, a cancelled event is recorded', async () => {
    const artifact = randomArtifact(12 * MiB);
    let release!: () => void;
    const upload = client.upload('default', 'cancel/upload.bin', pausedSource(artifact.bytes, 6 * MiB, new Promise((r) => (release = r))), {
      requestId: 'cancel-upload-1',
    });
    // It rejects as soon as the worker reports the cancellation, before the expectation below awaits it.
    upload.catch(() => undefined);
    await eventually(
      () => client.audit.query({ requestId: 'cancel-upload-1', type: 'started' }),
      (records) => records.length > 0,
    );
    const canceller = await stack.client({ requester: 'operator' });
    await expect(canceller.cancel('cancel-upload-1')).resolves.toMatchObject({ requestId: 'cancel-upload-1', workerId: 'worker-1' });
    release();

    await expect(upload).rejects.toMatchObject({ code: 'TRANSFER_ABORTED' });
    await expect(client.stat('default', 'cancel/upload.bin')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    const cancelled = await eventually(
      () => client.audit.query({ requestId: 'cancel-upload-1', type: 'cancelled' }),
      (records) => records.length > 0,
    );
    expect(cancelled[0]).toMatchObject({ operation: 'upload', error: { code: 'TRANSFER_ABORTED', message: 'cancelled by operator' } });
  });

  it('cancels a download under way: the reader gets TRANSFER_ABORTED and a cancelled event is recorded', async () => {
    const artifact = randomArtifact(16 * MiB);
    await client.upload('default', 'cancel/download.bin', streamOf(artifact.bytes));
    const stream = await client.download('default', 'cancel/download.bin', { requestId: 'cancel-download-1' });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    await client.cancel('cancel-download-1');
    await expect(collect({ [Symbol.asyncIterator]: () => iterator })).rejects.toMatchObject({ code: 'TRANSFER_ABORTED' });
    const cancelled = await eventually(
      () => client.audit.query({ requestId: 'cancel-download-1', type: 'cancelled' }),
      (records) => records.length > 0,
    );
    expect(cancelled[0]).toMatchObject({ operation: 'download' });
  });

  it('answers TRANSFER_NOT_FOUND for an id no worker runs', async () => {
    await expect(client.cancel('no-such-request')).rejects.toMatchObject({ code: 'TRANSFER_NOT_FOUND' });
  });

  it('cancels a copy job between objects: its state says cancelled and the rest is not copied', async () => {
    const local = await tempDir('cancel-copy');
    await client.stores.register('cancel-src', { flavor: 'local', path: local.path });
    for (let i = 0; i < 60; i++) await client.upload('cancel-src', `many/${String(i).padStart(3, '0')}.bin`, streamOf(randomArtifact(64 * 1024).bytes));
    let cancelling: Promise<unknown> | undefined;
    const state = await client.copy({ store: 'cancel-src', key: 'many/' }, { store: 'default', key: 'copied-many/' }, {
      recursive: true,
      jobId: 'cancel-copy-1',
      onProgress: () => {
        cancelling ??= client.cancel('cancel-copy-1');
      },
    });
    await cancelling;
    expect(state).toMatchObject({ state: 'cancelled', error: { code: 'TRANSFER_ABORTED' } });
    expect(state.objectsCopied).toBeLessThan(60);
    expect((await client.list('default', 'copied-many/')).objects.length).toBe(state.objectsCopied);
    await local.remove();
  });
});

describe('draining a worker', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;

  beforeAll(async () => {
    stack = await startTestStack();
    client = await stack.client();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('lets a transfer finish within the grace period, then stops', async () => {
    const artifact = randomArtifact(8 * MiB);
    let release!: () => void;
    const upload = client.upload('default', 'drain/finishes.bin', pausedSource(artifact.bytes, MiB, new Promise((r) => (release = r))), { requestId: 'drain-1' });
    await eventually(
      () => client.audit.query({ requestId: 'drain-1', type: 'started' }),
      (records) => records.length > 0,
    );
    const stopped = stack.workers[0]!.stop(20_000);
    setTimeout(release, 300);
    await expect(upload).resolves.toMatchObject({ sha256: artifact.sha256 });
    await stopped;
    // A stopped worker takes no new work: another one does.
    await stack.addWorker();
    expect((await collect(await client.download('default', 'drain/finishes.bin'))).equals(artifact.bytes)).toBe(true);
  });

  it('cancels what is still running when the grace period is over, with SERVICE_UNAVAILABLE for the client to retry', async () => {
    const worker = stack.workers.at(-1)!;
    const artifact = randomArtifact(8 * MiB);
    const upload = client.upload('default', 'drain/too-slow.bin', pausedSource(artifact.bytes, MiB, new Promise(() => {})), { requestId: 'drain-2' });
    upload.catch(() => undefined);
    await eventually(
      () => client.audit.query({ requestId: 'drain-2', type: 'started' }),
      (records) => records.length > 0,
    );
    await worker.stop(200);
    await expect(upload).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    const failed = await eventually(
      () => client.audit.query({ requestId: 'drain-2', type: 'failed' }),
      (records) => records.length > 0,
    );
    expect(failed[0]).toMatchObject({ error: { code: 'SERVICE_UNAVAILABLE' } });
    await stack.addWorker();
    await expect(client.stat('default', 'drain/too-slow.bin')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
  });
});
