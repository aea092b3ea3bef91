import path from 'node:path';
import { ensureEventsStream, registryEvent, type Subscription } from '@artifact-bus/contracts';
import { RegistryEventOutbox } from './event-outbox.ts';
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
  const storePath = path.resolve(dataDir, 'artifacts');
  const created = await ctx.events.transaction(async (trx, emit) => {
    const done = await trx.selectFrom('settings').select('value').where('key', '=', BOOTSTRAPPED).executeTakeFirst();
    if (done) return false;
    await trx.insertInto('settings').values({ key: BOOTSTRAPPED, value: new Date().toISOString() }).execute();
    const hasStores = await trx.selectFrom('stores').select('name').limit(1).executeTakeFirst();
    if (hasStores) return false;
    await trx.insertInto('stores').values({ name: 'default', flavor: 'local', path: storePath, client_kwargs: '{}', config_kwargs: '{}', s3_additional_kwargs: '{}' }).execute();
    await trx.insertInto('stacks').values({ name: 'default', artifact_store: 'default' }).execute();
    await setActiveStack({ db: trx }, 'default');
    emit(
      registryEvent('store.registered', 'default', { flavor: 'local', path: storePath, changes: ['flavor', 'path'] }),
      registryEvent('stack.registered', 'default', { artifactStore: 'default', changes: ['artifactStore'] }),
      registryEvent('stack.set', 'default', { artifactStore: 'default', changes: ['active'] }),
    );
    return true;
  });
  if (created) ctx.logger.info({ path: storePath }, 'created the default local artifact store and the default active stack');
}

export interface RegistryService {
  stop(): Promise<void>;
}

export async function startRegistry(services: Omit<RegistryContext, 'events'>, options: { dataDir: string }): Promise<RegistryService> {
  await ensureEventsStream(services.nc);
  const ctx: RegistryContext = { ...services, events: new RegistryEventOutbox(services.nc, services.db, services.logger) };
  // Events a previous run committed and could not publish go out first.
  await ctx.events.flush();
  await bootstrap(ctx, options.dataDir);
  const subscriptions: Subscription[] = [...serveStores(ctx), ...serveSecrets(ctx), ...serveStacks(ctx)];
  return {
    async stop() {
      await Promise.all(subscriptions.map((s) => s.drain()));
      await ctx.events.stop();
    },
  };
}
