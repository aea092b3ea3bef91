import { sql, type ColumnType, type Kysely, type Migration } from 'kysely';

export interface AuditDatabase {
  events: {
    event_id: string;
    stream_sequence: number;
    time: ColumnType<Date, string, never>;
    type: string;
    operation: string;
    request_id: string | null;
    store: string | null;
    key: string | null;
    uri: string | null;
    size_bytes: number | null;
    sha256: string | null;
    requester: string | null;
    worker_id: string | null;
    source_store: string | null;
    source_key: string | null;
    source_uri: string | null;
    job_id: string | null;
    error_code: string | null;
    error_message: string | null;
    recorded_at: ColumnType<Date, never, never>;
  };
  /** RegistryEvents: changes to stores, secrets and stacks (names and key names, never values). */
  registry_events: {
    event_id: string;
    stream_sequence: number;
    time: ColumnType<Date, string, never>;
    type: string;
    kind: string;
    name: string;
    previous_name: string | null;
    /** JSON array of field or key names. */
    changes: ColumnType<unknown, string, never>;
    requester: string | null;
    flavor: string | null;
    path: string | null;
    artifact_store: string | null;
    /** JSON array of key names, or null. */
    keys: ColumnType<unknown, string | null, never>;
    recorded_at: ColumnType<Date, never, never>;
  };
}

export type AuditDb = Kysely<AuditDatabase>;

export const migrations: Record<string, Migration> = {
  '0001_events': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('events')
        // The event id is the primary key: a redelivered event can never become a second row.
        .addColumn('event_id', 'uuid', (c) => c.primaryKey())
        .addColumn('stream_sequence', 'bigint', (c) => c.notNull())
        .addColumn('time', 'timestamptz', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('operation', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('store', 'text')
        .addColumn('key', 'text')
        .addColumn('uri', 'text')
        .addColumn('size_bytes', 'bigint')
        .addColumn('sha256', 'text')
        .addColumn('requester', 'text')
        .addColumn('worker_id', 'text')
        .addColumn('error_code', 'text')
        .addColumn('error_message', 'text')
        .addColumn('recorded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema.createIndex('events_store_key').on('events').columns(['store', 'key']).execute();
      await db.schema.createIndex('events_time').on('events').column('time').execute();
      await db.schema.createIndex('events_request').on('events').column('request_id').execute();
    },
  },
  '0002_copy_sources': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('events')
        .addColumn('source_store', 'text')
        .addColumn('source_key', 'text')
        .addColumn('source_uri', 'text')
        .addColumn('job_id', 'text')
        .execute();
    },
  },
  '0003_registry_events': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('registry_events')
        // As for artifact events, the event id is the primary key: one row per event, whatever the redeliveries.
        .addColumn('event_id', 'uuid', (c) => c.primaryKey())
        .addColumn('stream_sequence', 'bigint', (c) => c.notNull())
        .addColumn('time', 'timestamptz', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('previous_name', 'text')
        .addColumn('changes', 'jsonb', (c) => c.notNull())
        .addColumn('requester', 'text')
        .addColumn('flavor', 'text')
        .addColumn('path', 'text')
        .addColumn('artifact_store', 'text')
        .addColumn('keys', 'jsonb')
        .addColumn('recorded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema.createIndex('registry_events_kind_name').on('registry_events').columns(['kind', 'name']).execute();
      await db.schema.createIndex('registry_events_previous_name').on('registry_events').column('previous_name').execute();
      await db.schema.createIndex('registry_events_time').on('registry_events').column('time').execute();
    },
  },
};
