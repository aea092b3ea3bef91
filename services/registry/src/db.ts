import { sql, type ColumnType, type Generated, type Kysely, type Migration } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** jsonb columns are written as JSON text and read back parsed. */
type Json<T> = ColumnType<T, string, string>;

export interface RegistryDatabase {
  stores: {
    name: string;
    flavor: string;
    path: string;
    authentication_secret: string | null;
    client_kwargs: Json<Record<string, unknown>>;
    config_kwargs: Json<Record<string, unknown>>;
    s3_additional_kwargs: Json<Record<string, unknown>>;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
  secrets: {
    name: string;
    keys: Json<string[]>;
    /** AES-256-GCM sealed JSON of the values (see SecretBox). */
    sealed: string;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
  stacks: {
    name: string;
    artifact_store: string;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
  settings: {
    key: string;
    value: string;
  };
  /** Registry events committed with their change and not yet published (see RegistryEventOutbox). */
  event_outbox: {
    seq: Generated<number>;
    event_id: string;
    /** The RegistryEvent as JSON. */
    payload: string;
    created_at: Timestamp;
  };
}

export type RegistryDb = Kysely<RegistryDatabase>;

export const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('secrets')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('keys', 'jsonb', (c) => c.notNull())
        .addColumn('sealed', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createTable('stores')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('flavor', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('authentication_secret', 'text', (c) => c.references('secrets.name').onDelete('restrict'))
        .addColumn('client_kwargs', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
        .addColumn('config_kwargs', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
        .addColumn('s3_additional_kwargs', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createTable('stacks')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('artifact_store', 'text', (c) => c.notNull().references('stores.name').onDelete('restrict'))
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createTable('settings')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0002_event_outbox': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('event_outbox')
        .addColumn('seq', 'bigserial', (c) => c.primaryKey())
        .addColumn('event_id', 'uuid', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
};

/** jsonb comes back parsed from pg and PGlite alike; tolerate text for safety. */
export function readJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string })?.code === '23505';
}

export function isForeignKeyViolation(error: unknown): boolean {
  return (error as { code?: string })?.code === '23503';
}
