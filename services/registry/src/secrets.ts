import { AbusError, endpoints, MAX_SECRET_KEYS, queueGroups, registryEvent, serveEndpoint, type SecretSummary } from '@artifact-bus/contracts';
import type { Selectable } from 'kysely';
import { isUniqueViolation, readJson, type RegistryDatabase, type RegistryDb } from './db.ts';
import type { RegistryContext } from './registry-context.ts';

type SecretRow = Selectable<RegistryDatabase['secrets']>;

function toSummary(row: Omit<SecretRow, 'sealed'>): SecretSummary {
  return {
    name: row.name,
    keys: readJson<string[]>(row.keys),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** A secret's row, locked until the transaction ends. */
async function lockSecret(trx: RegistryDb, name: string): Promise<SecretRow> {
  const row = await trx.selectFrom('secrets').selectAll().where('name', '=', name).forUpdate().executeTakeFirst();
  if (!row) throw new AbusError('SECRET_NOT_FOUND', `no secret "${name}"`);
  return row;
}

const quoted = (keys: string[]) => keys.map((k) => `"${k}"`).join(', ');

/**
 * Secrets go in sealed and come out as names and keys; only storeResolve ever opens them for a
 * caller. Logs, events, replies and errors name keys, never values.
 */
export function serveSecrets(ctx: RegistryContext) {
  const options = { queue: queueGroups.registry, logger: ctx.logger };
  const { registry } = endpoints;
  return [
    serveEndpoint(
      ctx.nc,
      registry.secretCreate,
      async ({ name, values, requester }) => {
        const keys = Object.keys(values).sort();
        const summary = await ctx.events
          .transaction(async (trx, emit) => {
            const row = await trx
              .insertInto('secrets')
              .values({ name, keys: JSON.stringify(keys), sealed: ctx.secrets.seal(values) })
              .returning(['name', 'keys', 'created_at', 'updated_at'])
              .executeTakeFirstOrThrow();
            emit(registryEvent('secret.created', name, { requester, keys, changes: keys }));
            return toSummary(row);
          })
          .catch((error: unknown) => {
            if (isUniqueViolation(error)) throw new AbusError('SECRET_EXISTS', `a secret named "${name}" already exists`);
            throw error;
          });
        ctx.logger.info({ secret: name, keys }, 'secret created');
        return summary;
      },
      options,
    ),
    serveEndpoint(
      ctx.nc,
      registry.secretUpdate,
      async ({ name, values, removeKeys, requester }) => {
        const setKeys = Object.keys(values).sort();
        if (setKeys.length === 0 && removeKeys.length === 0) throw new AbusError('BAD_REQUEST', 'nothing to update: give --key=value pairs or --remove-keys');
        const both = setKeys.filter((key) => removeKeys.includes(key));
        if (both.length > 0) throw new AbusError('BAD_REQUEST', `key(s) ${quoted(both)} are both set and removed`);
        const summary = await ctx.events.transaction(async (trx, emit) => {
          const row = await lockSecret(trx, name);
          const merged: Record<string, string> = { ...ctx.secrets.open(row.sealed), ...values };
          const missing = removeKeys.filter((key) => !(key in merged));
          if (missing.length > 0) throw new AbusError('BAD_REQUEST', `secret "${name}" has no key(s) ${quoted(missing)} to remove`);
          for (const key of removeKeys) delete merged[key];
          const keys = Object.keys(merged).sort();
          if (keys.length === 0) throw new AbusError('BAD_REQUEST', `secret "${name}" would have no key left; delete it instead`);
          if (keys.length > MAX_SECRET_KEYS) throw new AbusError('BAD_REQUEST', `secret "${name}" would have ${keys.length} keys; a secret holds at most ${MAX_SECRET_KEYS}`);
          const updated = await trx
            .updateTable('secrets')
            .set({ keys: JSON.stringify(keys), sealed: ctx.secrets.seal(merged), updated_at: new Date() })
            .where('name', '=', name)
            .returning(['name', 'keys', 'created_at', 'updated_at'])
            .executeTakeFirstOrThrow();
          // The keys set or removed, whether or not a value differs: an event must not tell a guessed value from a new one.
          emit(registryEvent('secret.updated', name, { requester, keys, changes: [...setKeys, ...removeKeys].sort() }));
          return toSummary(updated);
        });
        ctx.logger.info({ secret: name, setKeys, removedKeys: removeKeys }, 'secret updated');
        return summary;
      },
      options,
    ),
    serveEndpoint(
      ctx.nc,
      registry.secretDescribe,
      async ({ name }) => {
        const row = await ctx.db.selectFrom('secrets').select(['name', 'keys', 'created_at', 'updated_at']).where('name', '=', name).executeTakeFirst();
        if (!row) throw new AbusError('SECRET_NOT_FOUND', `no secret "${name}"`);
        const stores = await ctx.db.selectFrom('stores').select('name').where('authentication_secret', '=', name).orderBy('name').execute();
        return { ...toSummary(row), stores: stores.map((s) => s.name) };
      },
      options,
    ),
    serveEndpoint(
      ctx.nc,
      registry.secretList,
      async () => {
        const rows = await ctx.db.selectFrom('secrets').select(['name', 'keys', 'created_at', 'updated_at']).orderBy('name').execute();
        return { secrets: rows.map(toSummary) };
      },
      options,
    ),
    serveEndpoint(
      ctx.nc,
      registry.secretDelete,
      async ({ name, requester }) => {
        await ctx.events.transaction(async (trx, emit) => {
          const row = await lockSecret(trx, name);
          const users = await trx.selectFrom('stores').select('name').where('authentication_secret', '=', name).execute();
          if (users.length > 0) {
            throw new AbusError('SECRET_IN_USE', `secret "${name}" is used by artifact store(s) ${users.map((u) => u.name).join(', ')}`);
          }
          await trx.deleteFrom('secrets').where('name', '=', name).execute();
          emit(registryEvent('secret.deleted', name, { requester, keys: readJson<string[]>(row.keys) }));
        });
        ctx.logger.info({ secret: name }, 'secret deleted');
        return { name, deleted: true as const };
      },
      options,
    ),
    serveEndpoint(
      ctx.nc,
      registry.secretReseal,
      async ({ requester }) => {
        const rows = await ctx.db.selectFrom('secrets').select(['name', 'sealed']).orderBy('name').execute();
        let resealed = 0;
        let unchanged = 0;
        const unreadable: string[] = [];
        for (const { name, sealed } of rows) {
          if (ctx.secrets.isCurrent(sealed)) {
            unchanged++;
            continue;
          }
          // One transaction per secret: an update between the listing and here is re-sealed as it is now.
          const outcome = await ctx.events.transaction(async (trx, emit) => {
            const row = await trx.selectFrom('secrets').selectAll().where('name', '=', name).forUpdate().executeTakeFirst();
            if (!row) return 'gone';
            if (ctx.secrets.isCurrent(row.sealed)) return 'unchanged';
            let values: Record<string, string>;
            try {
              values = ctx.secrets.open(row.sealed);
            } catch {
              return 'unreadable';
            }
            await trx.updateTable('secrets').set({ sealed: ctx.secrets.seal(values) }).where('name', '=', name).execute();
            emit(registryEvent('secret.resealed', name, { requester, keys: readJson<string[]>(row.keys) }));
            return 'resealed';
          });
          if (outcome === 'resealed') resealed++;
          else if (outcome === 'unchanged') unchanged++;
          else if (outcome === 'unreadable') unreadable.push(name);
        }
        ctx.logger.info({ keyId: ctx.secrets.currentKeyId, resealed, unchanged, unreadable }, 'secrets re-sealed under the current key');
        return { keyId: ctx.secrets.currentKeyId, resealed, unchanged, unreadable };
      },
      options,
    ),
  ];
}
