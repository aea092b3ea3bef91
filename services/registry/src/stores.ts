import { isDeepStrictEqual } from 'node:util';
import {
  AbusError,
  endpoints,
  queueGroups,
  registryEvent,
  serveEndpoint,
  validateStoreDefinition,
  type ArtifactStore,
  type ResolvedStore,
  type StoreDefinition,
} from '@artifact-bus/contracts';
import type { Selectable } from 'kysely';
import { isForeignKeyViolation, isUniqueViolation, readJson, type RegistryDatabase, type RegistryDb } from './db.ts';
import { ACTIVE_STACK, type RegistryContext } from './registry-context.ts';

type StoreRow = Selectable<RegistryDatabase['stores']>;

function toStore(row: StoreRow): ArtifactStore {
  const options = (value: unknown) => {
    const parsed = readJson<Record<string, unknown>>(value);
    return Object.keys(parsed).length ? parsed : undefined;
  };
  return {
    name: row.name,
    flavor: row.flavor as ArtifactStore['flavor'],
    path: row.path,
    authenticationSecret: row.authentication_secret ?? undefined,
    clientKwargs: options(row.client_kwargs),
    configKwargs: options(row.config_kwargs),
    s3AdditionalKwargs: options(row.s3_additional_kwargs),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

export async function findStore(ctx: RegistryContext, name: string): Promise<ArtifactStore> {
  const row = await ctx.db.selectFrom('stores').selectAll().where('name', '=', name).executeTakeFirst();
  if (!row) throw new AbusError('STORE_NOT_FOUND', `no artifact store "${name}"`);
  return toStore(row);
}

/** A store's row, locked until the transaction ends. */
async function lockStore(trx: RegistryDb, name: string): Promise<StoreRow> {
  const row = await trx.selectFrom('stores').selectAll().where('name', '=', name).forUpdate().executeTakeFirst();
  if (!row) throw new AbusError('STORE_NOT_FOUND', `no artifact store "${name}"`);
  return row;
}

/** The fields of a definition that a user sets, in the names events and the client use. */
const DEFINITION_FIELDS = ['path', 'authenticationSecret', 'clientKwargs', 'configKwargs', 's3AdditionalKwargs'] as const;

function storeColumns(definition: StoreDefinition) {
  return {
    path: definition.path,
    authentication_secret: definition.authenticationSecret ?? null,
    client_kwargs: JSON.stringify(definition.clientKwargs ?? {}),
    config_kwargs: JSON.stringify(definition.configKwargs ?? {}),
    s3_additional_kwargs: JSON.stringify(definition.s3AdditionalKwargs ?? {}),
  };
}

/** An option object that is empty is no option: `{}` and absent are the same. */
function normalised(definition: StoreDefinition): StoreDefinition {
  const options = (value: Record<string, unknown> | undefined) => (value && Object.keys(value).length > 0 ? value : undefined);
  return {
    flavor: definition.flavor,
    path: definition.path,
    authenticationSecret: definition.authenticationSecret,
    clientKwargs: options(definition.clientKwargs),
    configKwargs: options(definition.configKwargs),
    s3AdditionalKwargs: options(definition.s3AdditionalKwargs),
  };
}

/** Foreign keys and unique names, as the codes users see. */
function storeWriteError(error: unknown, name: string, secret: string | null | undefined): unknown {
  if (isUniqueViolation(error)) return new AbusError('STORE_EXISTS', `an artifact store named "${name}" already exists`);
  if (isForeignKeyViolation(error)) return new AbusError('SECRET_NOT_FOUND', `no secret "${secret}"`);
  return error;
}

export async function activeStoreName(ctx: RegistryContext): Promise<string> {
  const row = await ctx.db
    .selectFrom('settings')
    .innerJoin('stacks', 'stacks.name', 'settings.value')
    .select('stacks.artifact_store')
    .where('settings.key', '=', ACTIVE_STACK)
    .executeTakeFirst();
  if (!row) throw new AbusError('NO_ACTIVE_STACK', 'no active stack: name a store (STORE:KEY) or run `abus stack set NAME`');
  return row.artifact_store;
}

export function serveStores(ctx: RegistryContext) {
  const options = { queue: queueGroups.registry, logger: ctx.logger };
  const { registry } = endpoints;
  return [
    serveEndpoint(
      ctx.nc,
      registry.storeRegister,
      async ({ name, requester, ...request }) => {
        const definition = normalised(validateStoreDefinition(request));
        const store = await ctx.events
          .transaction(async (trx, emit) => {
            const row = await trx
              .insertInto('stores')
              .values({ name, flavor: definition.flavor, ...storeColumns(definition) })
              .returningAll()
              .executeTakeFirstOrThrow();
            const changes = DEFINITION_FIELDS.filter((field) => definition[field] !== undefined);
            emit(registryEvent('store.registered', name, { requester, flavor: definition.flavor, path: definition.path, changes: ['flavor', ...changes] }));
            return toStore(row);
          })
          .catch((error: unknown) => {
            throw storeWriteError(error, name, definition.authenticationSecret);
          });
        ctx.logger.info({ store: name, flavor: definition.flavor }, 'artifact store registered');
        return store;
      },
      options,
    ),
    serveEndpoint(
      ctx.nc,
      registry.storeUpdate,
      async ({ name, requester, ...update }) => {
        const given = DEFINITION_FIELDS.filter((field) => update[field] !== undefined);
        if (given.length === 0) {
          throw new AbusError('BAD_REQUEST', 'nothing to update: give a path, an authentication secret (or remove it), client_kwargs, config_kwargs or s3_additional_kwargs');
        }
        const { store, changes } = await ctx.events
          .transaction(async (trx, emit) => {
            const before = toStore(await lockStore(trx, name));
            // Each field given replaces the stored one; the result is checked exactly like a registration.
            const after = normalised(
              validateStoreDefinition({
                flavor: before.flavor,
                path: update.path ?? before.path,
                authenticationSecret: update.authenticationSecret === null ? undefined : (update.authenticationSecret ?? before.authenticationSecret),
                clientKwargs: update.clientKwargs ?? before.clientKwargs,
                configKwargs: update.configKwargs ?? before.configKwargs,
                s3AdditionalKwargs: update.s3AdditionalKwargs ?? before.s3AdditionalKwargs,
              }),
            );
            const changes = DEFINITION_FIELDS.filter((field) => !isDeepStrictEqual(before[field], after[field]));
            if (changes.length === 0) return { store: before, changes };
            const row = await trx
              .updateTable('stores')
              .set({ ...storeColumns(after), updated_at: new Date() })
              .where('name', '=', name)
              .returningAll()
              .executeTakeFirstOrThrow();
            emit(registryEvent('store.updated', name, { requester, flavor: after.flavor, path: after.path, changes }));
            return { store: toStore(row), changes };
          })
          .catch((error: unknown) => {
            throw storeWriteError(error, name, update.authenticationSecret);
          });
        ctx.logger.info({ store: name, changes }, 'artifact store updated');
        return store;
      },
      options,
    ),
    serveEndpoint(
      ctx.nc,
      registry.storeRename,
      async ({ name, newName, requester }) => {
        if (newName === name) throw new AbusError('BAD_REQUEST', `artifact store "${name}" already has that name`);
        const store = await ctx.events
          .transaction(async (trx, emit) => {
            const { name: _, created_at, ...row } = await lockStore(trx, name);
            // Insert, move the stacks, delete: the stacks' foreign key holds at every step.
            const renamed = await trx
              .insertInto('stores')
              .values({ ...row, name: newName, client_kwargs: JSON.stringify(row.client_kwargs), config_kwargs: JSON.stringify(row.config_kwargs), s3_additional_kwargs: JSON.stringify(row.s3_additional_kwargs), created_at, updated_at: new Date() })
              .returningAll()
              .executeTakeFirstOrThrow();
            const stacks = await trx
              .updateTable('stacks')
              .set({ artifact_store: newName, updated_at: new Date() })
              .where('artifact_store', '=', name)
              .returning('name')
              .execute();
            await trx.deleteFrom('stores').where('name', '=', name).execute();
            emit(registryEvent('store.renamed', newName, { requester, previousName: name, flavor: renamed.flavor as StoreDefinition['flavor'], path: renamed.path, changes: ['name'] }));
            for (const stack of stacks) {
              emit(registryEvent('stack.updated', stack.name, { requester, artifactStore: newName, changes: ['artifactStore'] }));
            }
            return toStore(renamed);
          })
          .catch((error: unknown) => {
            throw storeWriteError(error, newName, null);
          });
        ctx.logger.info({ store: newName, previousName: name }, 'artifact store renamed');
        return store;
      },
      options,
    ),
    serveEndpoint(
      ctx.nc,
      registry.storeList,
      async () => {
        const rows = await ctx.db.selectFrom('stores').selectAll().orderBy('name').execute();
        return { stores: rows.map(toStore) };
      },
      options,
    ),
    serveEndpoint(ctx.nc, registry.storeDescribe, async ({ name }) => findStore(ctx, name), options),
    serveEndpoint(
      ctx.nc,
      registry.storeDelete,
      async ({ name, force, requester }) => {
        await ctx.events.transaction(async (trx, emit) => {
          const store = await lockStore(trx, name);
          const stacks = await trx.selectFrom('stacks').select('name').where('artifact_store', '=', name).execute();
          if (stacks.length > 0 && !force) {
            const names = stacks.map((s) => s.name).join(', ');
            throw new AbusError('STORE_IN_USE', `artifact store "${name}" is used by stack(s) ${names}; delete them first or pass --force`);
          }
          if (stacks.length > 0) {
            const stackNames = stacks.map((s) => s.name);
            await trx.deleteFrom('settings').where('key', '=', ACTIVE_STACK).where('value', 'in', stackNames).execute();
            await trx.deleteFrom('stacks').where('name', 'in', stackNames).execute();
            for (const stack of stackNames) emit(registryEvent('stack.deleted', stack, { requester, artifactStore: name }));
          }
          await trx.deleteFrom('stores').where('name', '=', name).execute();
          emit(registryEvent('store.deleted', name, { requester, flavor: store.flavor as StoreDefinition['flavor'], path: store.path }));
        });
        ctx.logger.info({ store: name }, 'artifact store deleted');
        return { name, deleted: true as const };
      },
      options,
    ),
    serveEndpoint(
      ctx.nc,
      registry.storeResolve,
      async ({ name }): Promise<ResolvedStore> => {
        const store = await findStore(ctx, name ?? (await activeStoreName(ctx)));
        if (!store.authenticationSecret) return { store, credentials: null };
        const secret = await ctx.db.selectFrom('secrets').select('sealed').where('name', '=', store.authenticationSecret).executeTakeFirst();
        if (!secret) throw new AbusError('SECRET_NOT_FOUND', `the secret "${store.authenticationSecret}" of store "${store.name}" is missing`);
        return { store, credentials: ctx.secrets.open(secret.sealed) };
      },
      options,
    ),
  ];
}
