import { connect, createInbox, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactBusClient } from '@artifact-bus/client';
import { ReplyEnvelope, subjects, UploadAccepted } from '@artifact-bus/contracts';
import { auditRecordOf, collect, randomArtifact, startTestStack, streamOf, type TestStack } from './harness/index.ts';

describe('two transfer workers', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;

  beforeAll(async () => {
    stack = await startTestStack({ workers: 2 });
    client = await stack.client();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('share 20 concurrent uploads, every one byte-exact', async () => {
    // Sizes from 0 bytes to a few chunks, so that uploads overlap and end at different times.
    const artifacts = Array.from({ length: 20 }, (_, i) => ({ key: `shared/${i}.bin`, requestId: `shared-${i}`, ...randomArtifact(i * 97_000 + (i % 3)) }));

    const results = await Promise.all(artifacts.map((a) => client.upload(undefined, a.key, streamOf(a.bytes), { requestId: a.requestId })));
    expect(results.map((r) => r.sha256)).toEqual(artifacts.map((a) => a.sha256));

    for (const artifact of artifacts) {
      const back = await collect(await client.download(undefined, artifact.key));
      expect(back.equals(artifact.bytes), artifact.key).toBe(true);
    }

    const completed = await Promise.all(artifacts.map((a) => auditRecordOf(client, a.requestId, 'completed')));
    expect(completed.map((event) => event?.sha256)).toEqual(artifacts.map((a) => a.sha256));
    expect(new Set(completed.map((event) => event?.workerId))).toEqual(new Set(['worker-1', 'worker-2']));
  });

  it('both answer requests from one queue group: each request is served exactly once', async () => {
    await client.upload(undefined, 'once/model.bin', streamOf(Buffer.from('once')), { requestId: 'served-once' });
    const records = await auditRecordOf(client, 'served-once', 'completed').then(() => client.audit.query({ requestId: 'served-once' }));
    expect(records.map((r) => r.type)).toEqual(['requested', 'started', 'completed']);
    expect(new Set(records.map((r) => r.workerId)).size).toBe(1);
  });
});

describe('a worker at its limit of concurrent transfers', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;
  let nc: NatsConnection;

  beforeAll(async () => {
    stack = await startTestStack({ worker: { maxConcurrentTransfers: 1 } });
    client = await stack.client();
    nc = await connect({ servers: stack.nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await stack?.stop();
  });

  async function rawUploadRequest(requestId: string) {
    const reply = await nc.request(subjects.transfer.upload, JSON.stringify({ requestId, key: `busy/${requestId}.bin`, creditSubject: createInbox() }), { timeout: 15_000 });
    return ReplyEnvelope.parse(reply.json());
  }

  it('answers WORKER_BUSY while its one slot is taken, and takes work again once the slot is free', async () => {
    const holding = await rawUploadRequest('holds-the-slot');
    expect(holding.ok).toBe(true);
    const refused = await rawUploadRequest('finds-it-taken');
    expect(refused).toMatchObject({ ok: false, error: { code: 'WORKER_BUSY' } });

    // The sender of the first upload gives up: the slot is given back.
    const { dataSubject } = UploadAccepted.parse(holding.ok ? holding.result : undefined);
    const abort = headers();
    abort.set('Abus-Kind', 'abort');
    nc.publish(dataSubject, JSON.stringify({ code: 'TRANSFER_ABORTED', message: 'test over' }), { headers: abort });
    expect(await auditRecordOf(client, 'holds-the-slot', 'failed')).toMatchObject({ error: { code: 'TRANSFER_ABORTED' } });

    const result = await client.upload(undefined, 'busy/after.bin', streamOf(Buffer.from('after')));
    expect(result.sizeBytes).toBe(5);
  });

  it('serves concurrent uploads one at a time: the client retries WORKER_BUSY until each is through', async () => {
    const artifacts = Array.from({ length: 6 }, (_, i) => ({ key: `busy/${i}.bin`, ...randomArtifact(400_000 + i) }));
    const results = await Promise.all(artifacts.map((a) => client.upload(undefined, a.key, streamOf(a.bytes))));
    expect(results.map((r) => r.sha256)).toEqual(artifacts.map((a) => a.sha256));
    for (const artifact of artifacts) {
      expect((await collect(await client.download(undefined, artifact.key))).equals(artifact.bytes)).toBe(true);
    }
  });
});
