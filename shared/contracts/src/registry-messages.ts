import { z } from 'zod';
import { ResourceName } from './keys.ts';
import { StoreDefinition } from './store-flavors.ts';

const Timestamp = z.iso.datetime({ offset: true });

/** A registered artifact store as the registry returns it. */
export const ArtifactStore = StoreDefinition.extend({
  name: ResourceName,
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type ArtifactStore = z.infer<typeof ArtifactStore>;

/** Who asked, as the client declares it; registry events and audit rows name it. */
const Requester = z.string().max(256);

export const StoreRegisterRequest = StoreDefinition.extend({ name: ResourceName, requester: Requester.optional() });
export const StoreNameRequest = z.object({ name: ResourceName });
export const StoreListReply = z.object({ stores: z.array(ArtifactStore) });
export const StoreDeleteRequest = z.object({ name: ResourceName, force: z.boolean().default(false), requester: Requester.optional() });
export const DeletedReply = z.object({ name: ResourceName, deleted: z.literal(true) });

/**
 * Changes a store: each field given replaces the stored one, the result is validated exactly
 * like a registration. `authenticationSecret: null` removes the secret; an option object that
 * is empty (`{}`) removes that option. The flavor never changes: register a new store instead.
 */
export const StoreUpdateRequest = z.object({
  name: ResourceName,
  path: StoreDefinition.shape.path.optional(),
  authenticationSecret: ResourceName.nullable().optional(),
  clientKwargs: StoreDefinition.shape.clientKwargs,
  configKwargs: StoreDefinition.shape.configKwargs,
  s3AdditionalKwargs: StoreDefinition.shape.s3AdditionalKwargs,
  requester: Requester.optional(),
});
export type StoreUpdateRequest = z.input<typeof StoreUpdateRequest>;
/** Renames a store; the stacks that use it follow. */
export const StoreRenameRequest = z.object({ name: ResourceName, newName: ResourceName, requester: Requester.optional() });

const SecretKey = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'secret keys are letters, digits and "_"');
/** At most 16 KiB per value: connection strings, PEM keys. */
const SecretValue = z.string().max(16384);
export const MAX_SECRET_KEYS = 64;

/** Secret values: at most 64 keys, each value at most 16 KiB (connection strings, PEM keys). */
export const SecretValues = z
  .record(SecretKey, SecretValue)
  .refine((values) => Object.keys(values).length > 0, 'a secret needs at least one key')
  .refine((values) => Object.keys(values).length <= MAX_SECRET_KEYS, `a secret holds at most ${MAX_SECRET_KEYS} keys`);
export const SecretCreateRequest = z.object({ name: ResourceName, values: SecretValues, requester: Requester.optional() });
/** Merges `values` into a secret's and drops `removeKeys`; a secret keeps at least one key. */
export const SecretUpdateRequest = z.object({
  name: ResourceName,
  values: z.record(SecretKey, SecretValue).default({}),
  removeKeys: z.array(SecretKey).max(MAX_SECRET_KEYS).default([]),
  requester: Requester.optional(),
});
export type SecretUpdateRequest = z.input<typeof SecretUpdateRequest>;
export const SecretNameRequest = z.object({ name: ResourceName });
export const SecretDeleteRequest = z.object({ name: ResourceName, requester: Requester.optional() });
/** Secrets as listed: names and keys, never values. */
export const SecretSummary = z.object({
  name: ResourceName,
  keys: z.array(z.string()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type SecretSummary = z.infer<typeof SecretSummary>;
export const SecretListReply = z.object({ secrets: z.array(SecretSummary) });
/** A secret as described: its keys, never its values, and the stores that use it. */
export const SecretDescription = SecretSummary.extend({ stores: z.array(ResourceName) });
export type SecretDescription = z.infer<typeof SecretDescription>;

/** Re-seals every secret that is not sealed under the registry's current key (key rotation). */
export const SecretResealRequest = z.object({ requester: Requester.optional() });
export const SecretResealReply = z.object({
  /** Id of the current key (the first 12 hex digits of its sha256), which now seals every readable secret. */
  keyId: z.string(),
  resealed: z.int().min(0),
  /** Already sealed under the current key. */
  unchanged: z.int().min(0),
  /** Secrets that no configured key opens: they stay as they are. */
  unreadable: z.array(ResourceName),
});
export type SecretResealReply = z.infer<typeof SecretResealReply>;

export const Stack = z.object({
  name: ResourceName,
  artifactStore: ResourceName,
  active: z.boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Stack = z.infer<typeof Stack>;
export const StackRegisterRequest = z.object({ name: ResourceName, artifactStore: ResourceName, setActive: z.boolean().default(false), requester: Requester.optional() });
export const StackNameRequest = z.object({ name: ResourceName });
/** `stack set` and `stack delete`: changes, so they name the requester. */
export const StackChangeRequest = z.object({ name: ResourceName, requester: Requester.optional() });
export const StackListReply = z.object({ stacks: z.array(Stack) });

/** For transfer workers: a store (the active stack's when `name` is absent) with its credentials. */
export const StoreResolveRequest = z.object({ name: ResourceName.optional() });
export const ResolvedStore = z.object({
  store: ArtifactStore,
  credentials: z.record(z.string(), z.string()).nullable(),
});
export type ResolvedStore = z.infer<typeof ResolvedStore>;
