import { endpoints, registryEvent, serveEndpoint, type EventPublisher, type Logger, type NatsConnection, type ServeOptions, type Subscription } from '@artifact-bus/contracts';
import type { StoreResolver } from './store-resolver.ts';

/**
 * `abus.transfer.deploy`: provisions what a store's path points to (bucket, container, folder)
 * with the store's own credentials, and records who asked in a `store.deployed` event.
 */
export function serveStoreDeploy(nc: NatsConnection, stores: StoreResolver, events: EventPublisher, logger: Logger, options: ServeOptions): Subscription {
  return serveEndpoint(
    nc,
    endpoints.transfer.deploy,
    async ({ store: name, requester }) => {
      const { store, backend } = await stores.open(name);
      const deployment = await backend.deploy();
      logger.info({ store: store.name, resource: deployment.resource, created: deployment.created }, 'store deployed');
      await events
        .registry(registryEvent('store.deployed', store.name, { requester, flavor: store.flavor, path: store.path, changes: deployment.created ? ['created'] : [] }))
        .catch(() => undefined); // logged by the publisher; the bucket exists either way
      return { store: store.name, flavor: store.flavor, ...deployment };
    },
    options,
  );
}
