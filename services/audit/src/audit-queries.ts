import { jetstreamManager } from '@nats-io/jetstream';
import { AUDIT_CONSUMER, endpoints, EVENTS_STREAM, queueGroups, RegistryAuditRecord, serveEndpoint, type AuditRecord, type Logger, type NatsConnection, type Subscription } from '@artifact-bus/contracts';
import type { Selectable } from 'kysely';
import type { AuditDatabase, AuditDb } from './db.ts';

function toRecord(row: Selectable<AuditDatabase['events']>): AuditRecord {
  return {
    id: row.event_id,
    time: new Date(row.time).toISOString(),
    type: row.type as AuditRecord['type'],
    operation: row.operation as AuditRecord['operation'],
    requestId: row.request_id,
    store: row.store,
    key: row.key,
    uri: row.uri,
    sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
    sha256: row.sha256,
    requester: row.requester,
    workerId: row.worker_id,
    sourceStore: row.source_store,
    sourceKey: row.source_key,
    sourceUri: row.source_uri,
    jobId: row.job_id,
    error: row.error_code ? ({ code: row.error_code, message: row.error_message ?? '' } as AuditRecord['error']) : null,
    streamSequence: Number(row.stream_sequence),
    recordedAt: new Date(row.recorded_at).toISOString(),
  };
}

/** A row read back is parsed like the event it records. */
function toRegistryRecord(row: Selectable<AuditDatabase['registry_events']>): RegistryAuditRecord {
  const list = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value);
  return RegistryAuditRecord.parse({
    id: row.event_id,
    time: new Date(row.time).toISOString(),
    type: row.type,
    kind: row.kind,
    name: row.name,
    previousName: row.previous_name,
    changes: list(row.changes),
    requester: row.requester,
    flavor: row.flavor,
    path: row.path,
    artifactStore: row.artifact_store,
    keys: row.keys === null ? null : list(row.keys),
    streamSequence: Number(row.stream_sequence),
    recordedAt: new Date(row.recorded_at).toISOString(),
  });
}

/** `%`, `_` and `\` in a key prefix are literal, not LIKE wildcards. */
function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function serveAuditQueries(nc: NatsConnection, db: AuditDb, logger: Logger): Subscription[] {
  return [
    serveEndpoint(
      nc,
      endpoints.audit.query,
      async (query) => {
        let select = db.selectFrom('events').selectAll();
        if (query.store) select = select.where('store', '=', query.store);
        if (query.key) select = select.where('key', 'like', likePrefix(query.key));
        if (query.type) select = select.where('type', '=', query.type);
        if (query.requestId) select = select.where('request_id', '=', query.requestId);
        if (query.jobId) select = select.where('job_id', '=', query.jobId);
        // From `since` forward; without it, the newest `limit` records. Either way oldest first.
        if (query.since) {
          const rows = await select.where('time', '>=', new Date(query.since)).orderBy('stream_sequence').limit(query.limit).execute();
          return { records: rows.map(toRecord) };
        }
        const rows = await select.orderBy('stream_sequence', 'desc').limit(query.limit).execute();
        return { records: rows.reverse().map(toRecord) };
      },
      { queue: queueGroups.audit, logger },
    ),
    serveEndpoint(
      nc,
      endpoints.audit.registryQuery,
      async (query) => {
        let select = db.selectFrom('registry_events').selectAll();
        if (query.kind) select = select.where('kind', '=', query.kind);
        if (query.name) {
          const name = query.name;
          select = select.where((eb) => eb.or([eb('name', '=', name), eb('previous_name', '=', name)]));
        }
        if (query.type) select = select.where('type', '=', query.type);
        if (query.requester) select = select.where('requester', '=', query.requester);
        // As for artifact events: from `since` forward; without it, the newest `limit` records. Either way oldest first.
        if (query.since) {
          const rows = await select.where('time', '>=', new Date(query.since)).orderBy('stream_sequence').limit(query.limit).execute();
          return { records: rows.map(toRegistryRecord) };
        }
        const rows = await select.orderBy('stream_sequence', 'desc').limit(query.limit).execute();
        return { records: rows.reverse().map(toRegistryRecord) };
      },
      { queue: queueGroups.audit, logger },
    ),
    serveEndpoint(
      nc,
      endpoints.audit.lag,
      async () => {
        const jsm = await jetstreamManager(nc);
        const [consumer, stream] = await Promise.all([jsm.consumers.info(EVENTS_STREAM, AUDIT_CONSUMER), jsm.streams.info(EVENTS_STREAM)]);
        return {
          pendingEvents: consumer.num_pending,
          unackedEvents: consumer.num_ack_pending,
          streamLastSequence: stream.state.last_seq,
          recordedThroughSequence: consumer.ack_floor.stream_seq,
        };
      },
      { queue: queueGroups.audit, logger },
    ),
  ];
}
