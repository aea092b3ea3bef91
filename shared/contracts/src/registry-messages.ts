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

export const StoreRegisterRequest = StoreDefinition.extend({ name: ResourceName });
export const StoreNameRequest = z.object({ name: ResourceName });
export const StoreListReply = z.object({ stores: z.array(ArtifactStore) });
export const StoreDeleteRequest = z.object({ name: ResourceName, force: z.boolean().default(false) });
export const DeletedReply = z.object({ name: ResourceName, deleted: z.literal(true) });

/** Secret values: at most 64 keys, each value at most 16 KiB (connection strings, PEM keys). */
export const SecretValues = z
  .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'secret keys are letters, digits and "_"'), z.string().max(16384))
  .refine((values) => Object.keys(values).length > 0, 'a secret needs at least one key')
  .refine((values) => Object.keys(values).length <= 64, 'a secret holds at most 64 keys');
export const SecretCreateRequest = z.object({ name: ResourceName, values: SecretValues });
/** Secrets as listed: names and keys, never values. */
export const SecretSummary = z.object({
  name: ResourceName,
  keys: z.array(z.string()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type SecretSummary = z.infer<typeof SecretSummary>;
export const SecretListReply = z.object({ secrets: z.array(SecretSummary) });

export const Stack = z.object({
  name: ResourceName,
  artifactStore: ResourceName,
  active: z.boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Stack = z.infer<typeof Stack>;
export const StackRegisterRequest = z.object({ name: ResourceName, artifactStore: ResourceName, setActive: z.boolean().default(false) });
export const StackNameRequest = z.object({ name: ResourceName });
export const StackListReply = z.object({ stacks: z.array(Stack) });

/** For transfer workers: a store (the active stack's when `name` is absent) with its credentials. */
export const StoreResolveRequest = z.object({ name: ResourceName.optional() });
export const ResolvedStore = z.object({
  store: ArtifactStore,
  credentials: z.record(z.string(), z.string()).nullable(),
});
export type ResolvedStore = z.infer<typeof ResolvedStore>;
