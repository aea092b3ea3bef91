/**
 * NATS subjects: the public contract. Request/reply subjects are served by a queue group
 * per service, so any number of instances share the load.
 */
export const subjects = {
  registry: {
    storeRegister: 'abus.registry.store.register',
    storeList: 'abus.registry.store.list',
    storeDescribe: 'abus.registry.store.describe',
    storeDelete: 'abus.registry.store.delete',
    storeUpdate: 'abus.registry.store.update',
    storeRename: 'abus.registry.store.rename',
    /** Internal: a store with its credentials, for transfer workers only. */
    storeResolve: 'abus.registry.store.resolve',
    secretCreate: 'abus.registry.secret.create',
    secretList: 'abus.registry.secret.list',
    secretDelete: 'abus.registry.secret.delete',
    secretUpdate: 'abus.registry.secret.update',
    secretDescribe: 'abus.registry.secret.describe',
    /** Re-seals every secret under the current key, so that an old key can be dropped. */
    secretReseal: 'abus.registry.secret.reseal',
    stackRegister: 'abus.registry.stack.register',
    stackList: 'abus.registry.stack.list',
    stackDescribe: 'abus.registry.stack.describe',
    stackSet: 'abus.registry.stack.set',
    stackDelete: 'abus.registry.stack.delete',
  },
  transfer: {
    upload: 'abus.transfer.upload',
    download: 'abus.transfer.download',
    stat: 'abus.transfer.stat',
    list: 'abus.transfer.list',
    delete: 'abus.transfer.delete',
    /** Heard by every worker (no queue group); the one running the transfer or copy job answers. */
    cancel: 'abus.transfer.cancel',
    /** Provisions a store's bucket, container or folder. */
    deploy: 'abus.transfer.deploy',
  },
  audit: {
    query: 'abus.audit.query',
    /** How far the audit trail is behind the events stream. */
    lag: 'abus.audit.lag',
    registryQuery: 'abus.audit.registry.query',
  },
  events: {
    /** Every event lives under this prefix, in the EVENTS_STREAM JetStream stream. */
    all: 'abus.events.>',
    /** `abus.events.artifact.<type>.<store>`; `_` stands for the store when none was resolved or the name was invalid. */
    artifact: (type: string, store: string | null) =>
      `abus.events.artifact.${type}.${store !== null && /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/.test(store) ? store : '_'}`,
    /** `abus.events.registry.<type>`, the type being `<kind>.<change>` (`abus.events.registry.store.updated`). */
    registry: (type: string) => `abus.events.registry.${type}`,
  },
} as const;

export const queueGroups = {
  registry: 'abus-registry',
  transfer: 'abus-transfer',
  audit: 'abus-audit',
} as const;

export const EVENTS_STREAM = 'ABUS_EVENTS';
export const AUDIT_CONSUMER = 'abus-audit';
