import { AbusError, endpoints, queueGroups, registryEvent, serveEndpoint, type Stack } from '@artifact-bus/contracts';
import { isForeignKeyViolation, isUniqueViolation } from './db.ts';
import { ACTIVE_STACK, type RegistryContext } from './registry-context.ts';

async function activeStackName(ctx: Pick<RegistryContext, 'db'>): Promise<string | null> {
  const row = await ctx.db.selectFrom('settings').select('value').where('key', '=', ACTIVE_STACK).executeTakeFirst();
  return row?.value ?? null;
}

async function findStack(ctx: Pick<RegistryContext, 'db'>, name: string): Promise<Stack> {
  const row = await ctx.db.selectFrom('stacks').selectAll().where('name', '=', name).executeTakeFirst();
  if (!row) throw new AbusError('STACK_NOT_FOUND', `no stack "${name}"`);
  return {
    name: row.name,
    artifactStore: row.artifact_store,
    active: (await activeStackName(ctx)) === row.name,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

export async function setActiveStack(ctx: Pick<RegistryContext, 'db'>, name: string): Promise<void> {
  await ctx.db
    .insertInto('settings')
    .values({ key: ACTIVE_STACK, value: name })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: name }))
    .execute();
}

export function serveStacks(ctx: RegistryContext) {
  const options = { queue: queueGroups.registry, logger: ctx.logger };
  const { registry } = endpoints;
  return [
    serveEndpoint(
      ctx.nc,
      registry.stackRegister,
      async ({ name, artifactStore, setActive, requester }) => {
        const stack = await ctx.events
          .transaction(async (db, emit) => {
            await db.insertInto('stacks').values({ name, artifact_store: artifactStore }).execute();
            emit(registryEvent('stack.registered', name, { requester, artifactStore, changes: ['artifactStore'] }));
            if (setActive) {
              await setActiveStack({ db }, name);
              emit(registryEvent('stack.set', name, { requester, artifactStore, changes: ['active'] }));
            }
            return findStack({ db }, name);
          })
          .catch((error: unknown) => {
            if (isUniqueViolation(error)) throw new AbusError('STACK_EXISTS', `a stack named "${name}" already exists`);
            if (isForeignKeyViolation(error)) throw new AbusError('STORE_NOT_FOUND', `no artifact store "${artifactStore}"`);
            throw error;
          });
        ctx.logger.info({ stack: name, artifactStore, active: setActive }, 'stack registered');
        return stack;
      },
      options,
    ),
    serveEndpoint(
      ctx.nc,
      registry.stackList,
      async () => {
        const active = await activeStackName(ctx);
        const rows = await ctx.db.selectFrom('stacks').selectAll().orderBy('name').execute();
        return {
          stacks: rows.map((row) => ({
            name: row.name,
            artifactStore: row.artifact_store,
            active: row.name === active,
            createdAt: new Date(row.created_at).toISOString(),
            updatedAt: new Date(row.updated_at).toISOString(),
          })),
        };
      },
      options,
    ),
    serveEndpoint(
      ctx.nc,
      registry.stackDescribe,
      async ({ name }) => {
        const target = name ?? (await activeStackName(ctx));
        if (!target) throw new AbusError('NO_ACTIVE_STACK', 'no active stack: run `abus stack set NAME`');
        return findStack(ctx, target);
      },
      options,
    ),
    serveEndpoint(
      ctx.nc,
      registry.stackSet,
      async ({ name, requester }) => {
        const stack = await ctx.events.transaction(async (db, emit) => {
          const found = await findStack({ db }, name);
          await setActiveStack({ db }, name);
          emit(registryEvent('stack.set', name, { requester, artifactStore: found.artifactStore, changes: ['active'] }));
          return { ...found, active: true };
        });
        ctx.logger.info({ stack: name }, 'active stack set');
        return stack;
      },
      options,
    ),
    serveEndpoint(
      ctx.nc,
      registry.stackDelete,
      async ({ name, requester }) => {
        await ctx.events.transaction(async (db, emit) => {
          const found = await findStack({ db }, name);
          if (found.active) throw new AbusError('STACK_IN_USE', `stack "${name}" is the active stack; set another one active first`);
          await db.deleteFrom('stacks').where('name', '=', name).execute();
          emit(registryEvent('stack.deleted', name, { requester, artifactStore: found.artifactStore }));
        });
        ctx.logger.info({ stack: name }, 'stack deleted');
        return { name, deleted: true as const };
      },
      options,
    ),
  ];
}
