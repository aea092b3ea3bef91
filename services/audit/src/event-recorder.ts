import { jetstream, AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import {
  ArtifactEvent,
  AUDIT_CONSUMER,
  describeIssues,
  ensureEventsStream,
  EVENTS_STREAM,
  RegistryEvent,
  subjects,
  type Logger,
  type NatsConnection,
} from '@artifact-bus/contracts';
import type { AuditDb } from './db.ts';

/**
 * PostgreSQL text cannot hold U+0000, and a failed event may echo one from a refused request:
 * without this the insert fails on every redelivery and the event is never recorded.
 */
function storable(value: string | null): string | null {
  return value === null ? null : value.replaceAll('\u0000', '\uFFFD');
}

/** Registry events live under this prefix; every other event of the stream is an artifact event. */
const REGISTRY_EVENTS = subjects.events.registry('');

/**
 * Records every event of the ABUS_EVENTS stream through a durable consumer: artifact events
 * in `events`, registry events in `registry_events`. An event is acked
 * only after its row is written, and the row is keyed by event id, so a redelivery (a crash
 * between insert and ack) never writes a second row and a database outage loses nothing:
 * unacked events are redelivered when it returns.
 */
export class EventRecorder {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly db: AuditDb,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const jsm = await ensureEventsStream(this.nc);
    await jsm.consumers.add(EVENTS_STREAM, {
      durable_name: AUDIT_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: subjects.events.all,
      ack_wait: nanos(30_000),
      max_ack_pending: 1000,
    });
    const consumer = await jetstream(this.nc).consumers.get(EVENTS_STREAM, AUDIT_CONSUMER);
    this.messages = await consumer.consume({ max_messages: 256 });
    this.loop = (async () => {
      for await (const msg of this.messages ?? []) await this.record(msg);
    })();
  }

  private async record(msg: JsMsg): Promise<void> {
    const schema = msg.subject.startsWith(REGISTRY_EVENTS) ? RegistryEvent : ArtifactEvent;
    let parsed: ReturnType<typeof schema.safeParse>;
    try {
      parsed = schema.safeParse(msg.json());
    } catch {
      parsed = schema.safeParse(undefined);
    }
    if (!parsed.success) {
      // Not an event of ours: keep it in the stream, but stop offering it to the recorder.
      this.logger.error({ subject: msg.subject, seq: msg.seq, problem: describeIssues(parsed.error) }, 'event does not match the schema; not recorded');
      msg.term();
      return;
    }
    const event = parsed.data;
    try {
      if ('operation' in event) await this.insertArtifactEvent(event, msg.seq);
      else await this.insertRegistryEvent(event, msg.seq);
      msg.ack();
    } catch (error) {
      this.logger.warn({ err: error, eventId: event.id }, 'could not record event; it will be redelivered');
      msg.nak(5_000);
    }
  }

  private async insertArtifactEvent(event: ArtifactEvent, seq: number): Promise<void> {
    await this.db
      .insertInto('events')
      .values({
        event_id: event.id,
        stream_sequence: seq,
        time: event.time,
        type: event.type,
        operation: event.operation,
        request_id: storable(event.requestId),
        store: storable(event.store),
        key: storable(event.key),
        uri: storable(event.uri),
        size_bytes: event.sizeBytes,
        sha256: storable(event.sha256),
        requester: storable(event.requester),
        worker_id: storable(event.workerId),
        error_code: event.error?.code ?? null,
        error_message: storable(event.error?.message ?? null),
        source_store: storable(event.sourceStore),
        source_key: storable(event.sourceKey),
        source_uri: storable(event.sourceUri),
        job_id: storable(event.jobId),
      })
      .onConflict((oc) => oc.column('event_id').doNothing())
      .execute();
  }

  private async insertRegistryEvent(event: RegistryEvent, seq: number): Promise<void> {
    await this.db
      .insertInto('registry_events')
      .values({
        event_id: event.id,
        stream_sequence: seq,
        time: event.time,
        type: event.type,
        kind: event.kind,
        name: event.name,
        previous_name: event.previousName,
        // Names are letters, digits and "_" (schema): jsonb takes them; requester and path may hold anything.
        changes: JSON.stringify(event.changes),
        requester: storable(event.requester),
        flavor: event.flavor,
        path: storable(event.path),
        artifact_store: event.artifactStore,
        keys: event.keys === null ? null : JSON.stringify(event.keys),
      })
      .onConflict((oc) => oc.column('event_id').doNothing())
      .execute();
  }

  async stop(): Promise<void> {
    await this.messages?.close();
    await this.loop;
  }
}
