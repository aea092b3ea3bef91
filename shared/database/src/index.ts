import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, Migrator, PostgresDialect, type Dialect, type Migration } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import { AbusError } from '@artifact-bus/contracts';

export type { Migration };

export interface DatabaseOptions {
  /** PostgreSQL connection string; without it an embedded PGlite database under `dataDir` is used. */
  url?: string;
  dataDir: string;
  /** The service's own PostgreSQL schema; also the embedded database's folder name. */
  schema: string;
  migrations: Record<string, Migration>;
}

/**
 * Opens a service's database: PostgreSQL when a URL is given, else embedded PGlite (one
 * process per data folder). Creates the service's schema, runs its migrations, and returns a
 * Kysely instance bound to that schema.
 */
export async function openDatabase<DB>(options: DatabaseOptions): Promise<Kysely<DB>> {
  let dialect: Dialect;
  if (options.url) {
    dialect = new PostgresDialect({ pool: new pg.Pool({ connectionString: options.url, max: 10 }) });
  } else {
    const folder = path.resolve(options.dataDir, 'db', options.schema);
    await mkdir(folder, { recursive: true });
    dialect = new PGliteDialect(await PGlite.create(folder));
  }
  const root = new Kysely<DB>({ dialect });
  try {
    await root.schema.createSchema(options.schema).ifNotExists().execute();
    const db = root.withSchema(options.schema);
    const migrator = new Migrator({
      db,
      provider: { getMigrations: async () => options.migrations },
      migrationTableSchema: options.schema,
    });
    const { error } = await migrator.migrateToLatest();
    if (error) throw error;
    return db;
  } catch (error) {
    await root.destroy().catch(() => undefined);
    const where = options.url ? 'PostgreSQL (DATABASE_URL)' : 'the embedded database';
    throw new AbusError('SERVICE_UNAVAILABLE', `cannot open ${where} for ${options.schema}: ${(error as Error).message}`, { cause: error });
  }
}

// int8 columns (sizes, stream sequences) stay below 2^53: read them as numbers.
pg.types.setTypeParser(20, (value) => Number(value));
