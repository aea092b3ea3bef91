import {
  AbusError,
  endpoints,
  queueGroups,
  serveEndpoint,
  validateStoreDefinition,
  type ArtifactStore,
  type ResolvedStore,
} from '@artifact-bus/contracts';
import type { Selectable } from 'kysely';
import { isForeignKeyViolation, isUniqueViolation, readJson, type RegistryDatabase } from './db.ts';
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
      async (request) => {
        const { name, ...definition } = request;
        validateStoreDefinition(definition);
        try {
          const row = await ctx.db
            .insertInto('stores')
            .values({
              name,
              flavor: definition.flavor,
              path: definition.path,
              authentication_secret: definition.authenticationSecret ?? null,
              client_kwargs: JSON.stringify(definition.clientKwargs ?? {}),
              config_kwargs: JSON.stringify(definition.configKwargs ?? {}),
              s3_additional_kwargs: JSON.stringify(definition.s3AdditionalKwargs ?? {}),
            })
            .returningAll()
            .executeTakeFirstOrThrow();
          ctx.logger.info({ store: name, flavor: definition.flavor }, 'artifact store registered');
          return toStore(row);
        } catch (error) {
          if (isUniqueViolation(error)) throw new AbusError('STORE_EXISTS', `an artifact store named "${name}" already exists`);
          if (isForeignKeyViolation(error)) throw new AbusError('SECRET_NOT_FOUND', `no secret "${definition.authenticationSecret}"`);
          throw error;
        }
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
      async ({ name, force }) => {
        await findStore(ctx, name);
        await ctx.db.transaction().execute(async (trx) => {
          const stacks = await trx.selectFrom('stacks').select('name').where('artifact_store', '=', name).execute();
          if (stacks.length > 0 && !force) {
            const names = stacks.map((s) => s.name).join(', ');
            throw new AbusError('STORE_IN_USE', `artifact store "${name}" is used by stack(s) ${names}; delete them first or pass --force`);
          }
          if (stacks.length > 0) {
            const stackNames = stacks.map((s) => s.name);
            await trx.deleteFrom('settings').where('key', '=', ACTIVE_STACK).where('value', 'in', stackNames).execute();
            await trx.deleteFrom('stacks').where('name', 'in', stackNames).execute();
          }
          await trx.deleteFrom('stores').where('name', '=', name).execute();
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
