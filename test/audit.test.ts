import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactBusClient } from '@artifact-bus/client';
import { ArtifactEvent, subjects, type AuditRecord } from '@artifact-bus/contracts';
import {
  auditCaughtUp,
  auditConsumerInfo,
  auditRecordOf,
  collect,
  eventually,
  randomArtifact,
  readEventsStream,
  startTestStack,
  streamOf,
  type TestStack,
} from './harness/index.ts';

const MiB = 1024 * 1024;

/** An audit record as the event it records: without what the audit service adds. */
function asEvent(record: AuditRecord): ArtifactEvent {
  const { streamSequence: _, recordedAt: __, ...event } = record;
  return event;
}

function eventFor(fields: Partial<ArtifactEvent> = {}): ArtifactEvent {
  return ArtifactEvent.parse({
    id: randomUUID(),
    time: new Date().toISOString(),
    type: 'completed',
    operation: 'upload',
    requestId: `hand-made-${randomUUID()}`,
    store: 'default',
    key: 'hand/made.bin',
    uri: null,
    sizeBytes: 3,
    sha256: 'a'.repeat(64),
    requester: 'test-suite',
    workerId: 'nobody',
    error: null,
    ...fields,
  });
}

describe('audit', () => {
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

  const publishRaw = (subject: string, payload: unknown, msgID: string) =>
    jetstream(nc).publish(subject, typeof payload === 'string' ? payload : JSON.stringify(payload), { msgID });

  describe('after a run of transfers', () => {
    it('holds exactly one row per event in the stream, equal to the event', async () => {
      const big = randomArtifact(11 * MiB + 3);
      const small = randomArtifact(1000);
      await client.upload(undefined, 'run/big.bin', streamOf(big.bytes), { requestId: 'run-upload-big' });
      await client.upload(undefined, 'run/small.bin', streamOf(small.bytes), { requestId: 'run-upload-small' });
      await collect(await client.download(undefined, 'run/big.bin', { requestId: 'run-download' }));
      await collect(await client.download(undefined, 'run/small.bin', { requestId: 'run-download-range', offset: 10, length: 10 }));
      await expect(client.upload(undefined, 'run/bad.bin', streamOf(small.bytes), { requestId: 'run-mismatch', sha256: big.sha256 })).rejects.toThrow();
      await expect(client.download(undefined, 'run/none.bin', { requestId: 'run-missing' })).rejects.toThrow();
      await client.delete(undefined, 'run/small.bin', { requestId: 'run-delete' });
      await client.delete(undefined, 'run/none.bin', { requestId: 'run-delete-missing' });

      // Downloads complete on the worker after the reader has its bytes: wait for every last event.
      for (const [requestId, type] of [
        ['run-upload-big', 'completed'],
        ['run-upload-small', 'completed'],
        ['run-download', 'completed'],
        ['run-download-range', 'completed'],
        ['run-mismatch', 'failed'],
        ['run-missing', 'failed'],
        ['run-delete', 'deleted'],
        ['run-delete-missing', 'requested'],
      ] as const) {
        expect(await auditRecordOf(client, requestId, type)).toBeDefined();
      }
      await auditCaughtUp(stack.nats.url);

      // The stream also holds the registry's events (its first start); those have a table of their own.
      const stream = (await readEventsStream(stack.nats.url)).filter((m) => m.subject.startsWith('abus.events.artifact.'));
      const rows = await stack.auditDb.selectFrom('events').select(['event_id', 'stream_sequence']).execute();
      const events = stream.map((m) => ArtifactEvent.parse(m.body));
      expect(stream.length).toBeGreaterThanOrEqual(20);
      expect(rows.length).toBe(stream.length);
      expect(new Set(rows.map((r) => r.event_id))).toEqual(new Set(events.map((e) => e.id)));
      expect(Object.fromEntries(rows.map((r) => [r.event_id, r.stream_sequence]))).toEqual(Object.fromEntries(stream.map((m, i) => [events[i]!.id, m.seq])));

      const records = await client.audit.query({ limit: 10_000 });
      expect(records.map(asEvent)).toEqual(events);
    });
  });

  describe('when an event is delivered twice', () => {
    it('keeps one row per event id, from the first delivery', async () => {
      const event = eventFor();
      const first = await publishRaw(subjects.events.artifact(event.type, event.store), event, `${event.id}-first`);
      const second = await publishRaw(subjects.events.artifact(event.type, event.store), event, `${event.id}-second`);
      expect(second.duplicate).toBe(false);

      await auditCaughtUp(stack.nats.url, second.seq);
      const rows = await stack.auditDb.selectFrom('events').selectAll().where('event_id', '=', event.id).execute();
      expect(rows.length).toBe(1);
      expect(rows[0]?.stream_sequence).toBe(first.seq);
      expect((await client.audit.query({ requestId: event.requestId ?? '' })).map(asEvent)).toEqual([event]);
    });

    it('drops a re-publication with the same message id in the stream itself', async () => {
      const event = eventFor();
      const first = await publishRaw(subjects.events.artifact(event.type, event.store), event, event.id);
      const again = await publishRaw(subjects.events.artifact(event.type, event.store), event, event.id);
      expect(again).toMatchObject({ duplicate: true, seq: first.seq });
    });
  });

  describe('a message on the events subjects that is not an event', () => {
    it('is left unrecorded, and the events after it are recorded', async () => {
      await auditCaughtUp(stack.nats.url);
      const before = await stack.auditDb.selectFrom('events').select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow();
      const junk = await publishRaw('abus.events.artifact.completed.default', 'not an event at all', randomUUID());
      await publishRaw('abus.events.artifact.completed.default', { id: 'not-a-uuid', type: 'completed' }, randomUUID());
      const event = eventFor();
      const after = await publishRaw(subjects.events.artifact(event.type, event.store), event, event.id);
      expect(after.seq).toBeGreaterThan(junk.seq);

      expect(await auditRecordOf(client, event.requestId ?? '', 'completed')).toMatchObject({ id: event.id });
      await auditCaughtUp(stack.nats.url, after.seq);
      const count = await stack.auditDb.selectFrom('events').select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow();
      expect(count.n).toBe(before.n + 1);
    });
  });

  describe('queries', () => {
    beforeAll(async () => {
      for (const key of ['query/100%/a.bin', 'query/100x/b.bin', 'query/under_score.bin', 'query/underXscore.bin']) {
        await client.upload(undefined, key, streamOf(Buffer.from(key)), { requestId: `query-${key.replace(/[^a-z0-9]/gi, '-')}` });
      }
      await eventually(
        () => client.audit.query({ key: 'query/', type: 'completed' }),
        (records) => records.length === 4,
      );
    });

    it('filters by key prefix, taking % and _ literally', async () => {
      expect((await client.audit.query({ key: 'query/100%', type: 'completed' })).map((r) => r.key)).toEqual(['query/100%/a.bin']);
      expect((await client.audit.query({ key: 'query/under_', type: 'completed' })).map((r) => r.key)).toEqual(['query/under_score.bin']);
    });

    it('filters by type, store and request id, in stream order', async () => {
      const records = await client.audit.query({ key: 'query/', store: 'default' });
      expect(records.map((r) => r.streamSequence)).toEqual([...records.map((r) => r.streamSequence)].sort((a, b) => a - b));
      // A transfer without a store name is requested before the store is resolved: its requested event has store null.
      expect(new Set(records.map((r) => r.type))).toEqual(new Set(['started', 'completed']));
      expect((await client.audit.query({ key: 'query/', type: 'completed' })).map((r) => r.store)).toEqual(['default', 'default', 'default', 'default']);

      const one = await client.audit.query({ requestId: 'query-query-100--a-bin' });
      expect(one.map((r) => r.type)).toEqual(['requested', 'started', 'completed']);
      expect(await client.audit.query({ key: 'query/', store: 'elsewhere' })).toEqual([]);
    });

    it('filters by time and limits the number of records', async () => {
      expect(await client.audit.query({ key: 'query/', since: new Date(Date.now() + 3600_000).toISOString() })).toEqual([]);
      expect((await client.audit.query({ key: 'query/', limit: 2 })).length).toBe(2);
    });
  });
});

describe('audit while its database refuses writes', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;

  beforeAll(async () => {
    stack = await startTestStack();
    client = await stack.client();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('loses no event: they are redelivered and recorded once it accepts them again', async () => {
    await sql`ALTER TABLE audit.events RENAME TO events_away`.execute(stack.auditDb);
    try {
      await client.upload(undefined, 'outage/model.bin', streamOf(Buffer.from('during the outage')), { requestId: 'during-outage' });
      // The recorder has failed on an event and the server has offered it again.
      await eventually(
        () => auditConsumerInfo(stack.nats.url),
        (info) => info.num_redelivered > 0,
        30_000,
      );
      // The lag is visible while the database refuses writes.
      const behind = await client.audit.lag();
      expect(behind.recordedThroughSequence).toBeLessThan(behind.streamLastSequence);
    } finally {
      await sql`ALTER TABLE audit.events_away RENAME TO events`.execute(stack.auditDb);
    }

    const caughtUp = await eventually(
      () => client.audit.lag(),
      (lag) => lag.pendingEvents === 0 && lag.unackedEvents === 0 && lag.recordedThroughSequence === lag.streamLastSequence,
      30_000,
    );
    expect(caughtUp).toMatchObject({ pendingEvents: 0, unackedEvents: 0, recordedThroughSequence: caughtUp.streamLastSequence });

    // Redeliveries come in any order; the records come back in stream order.
    const records = await eventually(
      () => client.audit.query({ requestId: 'during-outage' }),
      (found) => found.length >= 3,
      30_000,
    );
    expect(records.map((r) => r.type)).toEqual(['requested', 'started', 'completed']);
    await auditCaughtUp(stack.nats.url);
    const stream = (await readEventsStream(stack.nats.url)).filter((m) => m.subject.startsWith('abus.events.artifact.'));
    const rows = await stack.auditDb.selectFrom('events').select('event_id').execute();
    expect(new Set(rows.map((r) => r.event_id))).toEqual(new Set(stream.map((m) => ArtifactEvent.parse(m.body).id)));
    expect(rows.length).toBe(stream.length);
  });
});
