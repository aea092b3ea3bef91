import { AbusError, endpoints, queueGroups, serveEndpoint, type SecretSummary } from '@artifact-bus/contracts';
import type { Selectable } from 'kysely';
import { isUniqueViolation, readJson, type RegistryDatabase } from './db.ts';
import type { RegistryContext } from './registry-context.ts';

function toSummary(row: Omit<Selectable<RegistryDatabase['secrets']>, 'sealed'>): SecretSummary {
  return {
    name: row.name,
    keys: readJson<string[]>(row.keys),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** Secrets go in sealed and come out as names and keys; only storeResolve ever opens them. */
export function serveSecrets(ctx: RegistryContext) {
  const options = { queue: queueGroups.registry, logger: ctx.logger };
  const { registry } = endpoints;
  return [
    serveEndpoint(
      ctx.nc,
      registry.secretCreate,
      async ({ name, values }) => {
        try {
          const row = await ctx.db
            .insertInto('secrets')
            .values({ name, keys: JSON.stringify(Object.keys(values).sort()), sealed: ctx.secrets.seal(values) })
            .returning(['name', 'keys', 'created_at', 'updated_at'])
            .executeTakeFirstOrThrow();
          ctx.logger.info({ secret: name, keys: Object.keys(values) }, 'secret created');
          return toSummary(row);
        } catch (error) {
          if (isUniqueViolation(error)) throw new AbusError('SECRET_EXISTS', `a secret named "${name}" already exists`);
          throw error;
        }
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
      async ({ name }) => {
        const users = await ctx.db.selectFrom('stores').select('name').where('authentication_secret', '=', name).execute();
        if (users.length > 0) {
          throw new AbusError('SECRET_IN_USE', `secret "${name}" is used by artifact store(s) ${users.map((u) => u.name).join(', ')}`);
        }
        const result = await ctx.db.deleteFrom('secrets').where('name', '=', name).executeTakeFirst();
        if (Number(result.numDeletedRows) === 0) throw new AbusError('SECRET_NOT_FOUND', `no secret "${name}"`);
        ctx.logger.info({ secret: name }, 'secret deleted');
        return { name, deleted: true as const };
      },
      options,
    ),
  ];
}
