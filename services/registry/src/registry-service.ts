import path from 'node:path';
import type { Subscription } from '@artifact-bus/contracts';
import type { RegistryContext } from './registry-context.ts';
import { serveSecrets } from './secrets.ts';
import { serveStacks, setActiveStack } from './stacks.ts';
import { serveStores } from './stores.ts';

const BOOTSTRAPPED = 'bootstrapped';

/**
 * On the very first start: a `default` local store under the data folder and a `default`
 * active stack, so the quick start needs no cloud. Never again after that, even if deleted.
 */
async function bootstrap(ctx: RegistryContext, dataDir: string): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    const done = await trx.selectFrom('settings').select('value').where('key', '=', BOOTSTRAPPED).executeTakeFirst();
    if (done) return;
    await trx.insertInto('settings').values({ key: BOOTSTRAPPED, value: new Date().toISOString() }).execute();
    const hasStores = await trx.selectFrom('stores').select('name').limit(1).executeTakeFirst();
    if (hasStores) return;
    await trx.insertInto('stores').values({ name: 'default', flavor: 'local', path: path.resolve(dataDir, 'artifacts'), client_kwargs: '{}', config_kwargs: '{}', s3_additional_kwargs: '{}' }).execute();
    await trx.insertInto('stacks').values({ name: 'default', artifact_store: 'default' }).execute();
    await setActiveStack({ ...ctx, db: trx }, 'default');
    ctx.logger.info({ path: path.resolve(dataDir, 'artifacts') }, 'created the default local artifact store and the default active stack');
  });
}

export interface RegistryService {
  stop(): Promise<void>;
}

export async function startRegistry(ctx: RegistryContext, options: { dataDir: string }): Promise<RegistryService> {
  await bootstrap(ctx, options.dataDir);
  const subscriptions: Subscription[] = [...serveStores(ctx), ...serveSecrets(ctx), ...serveStacks(ctx)];
  return {
    async stop() {
      await Promise.all(subscriptions.map((s) => s.drain()));
    },
  };
}
