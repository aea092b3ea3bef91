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
    /** Internal: a store with its credentials, for transfer workers only. */
    storeResolve: 'abus.registry.store.resolve',
    secretCreate: 'abus.registry.secret.create',
    secretList: 'abus.registry.secret.list',
    secretDelete: 'abus.registry.secret.delete',
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
  },
  audit: {
    query: 'abus.audit.query',
  },
  events: {
    /** Every event lives under this prefix, in the EVENTS_STREAM JetStream stream. */
    all: 'abus.events.>',
    /** `abus.events.artifact.<type>.<store>`; `_` stands for the store when none was resolved or the name was invalid. */
    artifact: (type: string, store: string | null) =>
      `abus.events.artifact.${type}.${store !== null && /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/.test(store) ? store : '_'}`,
  },
} as const;

export const queueGroups = {
  registry: 'abus-registry',
  transfer: 'abus-transfer',
  audit: 'abus-audit',
} as const;

export const EVENTS_STREAM = 'ABUS_EVENTS';
export const AUDIT_CONSUMER = 'abus-audit';
