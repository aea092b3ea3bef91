import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactBusClient, ArtifactEvent } from '@artifact-bus/client';
import { auditRecordOf, readEventsStream, startTestStack, streamOf, type TestStack } from './harness/index.ts';

/** Takes events from a tail until `done` accepts the ones taken; then stops the tail. */
async function takeUntil(tail: AsyncGenerator<ArtifactEvent>, done: (taken: ArtifactEvent[]) => boolean): Promise<ArtifactEvent[]> {
  const taken: ArtifactEvent[] = [];
  for await (const event of tail) {
    taken.push(event);
    if (done(taken)) break;
  }
  return taken;
}

const completedOf = (requestId: string) => (taken: ArtifactEvent[]) => taken.some((e) => e.requestId === requestId && e.type === 'completed');

describe('artifact events', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;
  let nc: NatsConnection;

  beforeAll(async () => {
    stack = await startTestStack();
    client = await stack.client();
    nc = await connect({ servers: stack.nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await stack?.stop();
  });

  it('are published on abus.events.artifact.<type>.<store>, "_" standing for a store not yet resolved', async () => {
    await client.upload(undefined, 'subjects/a.bin', streamOf(Buffer.from('a')), { requestId: 'subjects-default' });
    await client.upload('default', 'subjects/b.bin', streamOf(Buffer.from('b')), { requestId: 'subjects-named' });
    await auditRecordOf(client, 'subjects-named', 'completed');

    const stream = await readEventsStream(stack.nats.url);
    const subjectsOf = (requestId: string) =>
      stream.filter((m) => (m.body as ArtifactEvent).requestId === requestId).map((m) => m.subject);
    expect(subjectsOf('subjects-default')).toEqual(['abus.events.artifact.requested._', 'abus.events.artifact.started.default', 'abus.events.artifact.completed.default']);
    expect(subjectsOf('subjects-named')).toEqual([
      'abus.events.artifact.requested.default',
      'abus.events.artifact.started.default',
      'abus.events.artifact.completed.default',
    ]);
  });

  describe('tailed with the client', () => {
    it('come from a point in time, then as they happen, in order', async () => {
      const since = new Date(Date.now() - 1000);
      await client.upload(undefined, 'tail/before.bin', streamOf(Buffer.from('before')), { requestId: 'tail-before' });
      const tail = client.tailEvents({ since });

      const past = await takeUntil(tail, completedOf('tail-before'));
      expect(past.filter((e) => e.requestId === 'tail-before').map((e) => e.type)).toEqual(['requested', 'started', 'completed']);

      await client.upload(undefined, 'tail/after.bin', streamOf(Buffer.from('after')), { requestId: 'tail-after' });
      const live = await takeUntil(client.tailEvents({ since }), completedOf('tail-after'));
      expect(live.filter((e) => e.requestId === 'tail-after')).toEqual([
        expect.objectContaining({ type: 'requested', key: 'tail/after.bin' }),
        expect.objectContaining({ type: 'started', store: 'default' }),
        expect.objectContaining({ type: 'completed', sizeBytes: 5 }),
      ]);
    });

    it('skip a message on the events subjects that is not an event', async () => {
      const since = new Date(Date.now() - 1000);
      await jetstream(nc).publish('abus.events.artifact.completed.default', 'not json at all');
      await jetstream(nc).publish('abus.events.artifact.completed.default', JSON.stringify({ not: 'an event' }));
      await client.upload(undefined, 'tail/after-junk.bin', streamOf(Buffer.from('x')), { requestId: 'tail-after-junk' });

      const taken = await takeUntil(client.tailEvents({ since }), completedOf('tail-after-junk'));
      expect(taken.filter((e) => e.requestId === 'tail-after-junk').map((e) => e.type)).toEqual(['requested', 'started', 'completed']);
    });

    it('end when their signal aborts', async () => {
      const controller = new AbortController();
      const since = new Date(Date.now() - 1000);
      await client.upload(undefined, 'tail/abort.bin', streamOf(Buffer.from('x')), { requestId: 'tail-abort' });
      const taken: ArtifactEvent[] = [];
      for await (const event of client.tailEvents({ since, signal: controller.signal })) {
        taken.push(event);
        if (completedOf('tail-abort')(taken)) controller.abort();
      }
      expect(taken.some((e) => e.requestId === 'tail-abort')).toBe(true);
    });

    it('end at once when their signal was aborted before they started', async () => {
      const taken: ArtifactEvent[] = [];
      for await (const event of client.tailEvents({ since: new Date(0), signal: AbortSignal.abort() })) taken.push(event);
      expect(taken).toEqual([]);
    });
  });
});
