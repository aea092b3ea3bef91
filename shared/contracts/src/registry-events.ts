import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ResourceName } from './keys.ts';
import { StoreFlavor } from './store-flavors.ts';

/** What a registry event is about. */
export const RegistryResourceKind = z.enum(['store', 'secret', 'stack']);
export type RegistryResourceKind = z.infer<typeof RegistryResourceKind>;

/** `<kind>.<change>`; the event is published on `abus.events.registry.<type>`. */
export const RegistryEventType = z.enum([
  'store.registered',
  'store.updated',
  'store.renamed',
  'store.deleted',
  'store.deployed',
  'secret.created',
  'secret.updated',
  'secret.resealed',
  'secret.deleted',
  'stack.registered',
  'stack.updated',
  'stack.set',
  'stack.deleted',
]);
export type RegistryEventType = z.infer<typeof RegistryEventType>;

/** Store fields (`clientKwargs`), stack fields (`active`) and secret keys (`aws_access_key_id`). */
const FieldName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'a field or key name');

/**
 * A change to the registry (or, for `store.deployed`, to what a store's path points to),
 * published on `abus.events.registry.<type>` in the ABUS_EVENTS stream with the event id as
 * the JetStream message id. It names what changed, never a secret's value. Fields that do not
 * apply to the resource are null, never absent.
 */
export const RegistryEvent = z
  .object({
    /** Unique per event; the audit service stores each id once. */
    id: z.uuid(),
    time: z.iso.datetime({ offset: true }),
    type: RegistryEventType,
    kind: RegistryResourceKind,
    /** The resource's name (after a rename, the new one). */
    name: ResourceName,
    /** Renames: the name before. */
    previousName: ResourceName.nullable(),
    /**
     * Which fields changed: store fields (`path`, `authenticationSecret`, `clientKwargs`, ...),
     * secret key names (added, changed or removed; never values), `artifactStore` or `active` of a stack.
     */
    changes: z.array(FieldName).max(128),
    requester: z.string().max(256).nullable(),
    /** Stores: the flavor. */
    flavor: StoreFlavor.nullable(),
    /** Stores: the root path after the change. */
    path: z.string().max(2048).nullable(),
    /** Stacks: the artifact store after the change. */
    artifactStore: ResourceName.nullable(),
    /** Secrets: the key names after the change. */
    keys: z.array(FieldName).max(64).nullable(),
  })
  .refine((event) => event.type.startsWith(`${event.kind}.`), { message: 'kind must match the type', path: ['kind'] });
export type RegistryEvent = z.infer<typeof RegistryEvent>;

export type RegistryEventFields = Partial<Pick<RegistryEvent, 'previousName' | 'changes' | 'requester' | 'flavor' | 'path' | 'artifactStore' | 'keys'>>;

/** A new registry event of `type` about `name`, with a fresh id and the current time. */
export function registryEvent(type: RegistryEventType, name: string, fields: RegistryEventFields = {}): RegistryEvent {
  return RegistryEvent.parse({
    id: randomUUID(),
    time: new Date().toISOString(),
    type,
    kind: type.slice(0, type.indexOf('.')),
    name,
    previousName: fields.previousName ?? null,
    changes: fields.changes ?? [],
    requester: fields.requester ?? null,
    flavor: fields.flavor ?? null,
    path: fields.path ?? null,
    artifactStore: fields.artifactStore ?? null,
    keys: fields.keys ?? null,
  });
}
