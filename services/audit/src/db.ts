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
};
