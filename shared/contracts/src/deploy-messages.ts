import { z } from 'zod';
import { ResourceName } from './keys.ts';
import { StoreFlavor } from './store-flavors.ts';

/**
 * Provisions what a store's path points to: the S3 bucket, the Azure container or the local
 * folder. Served by transfer workers, which hold the storage SDKs and resolve the store's
 * credentials through the registry.
 */
export const StoreDeployRequest = z.object({ store: ResourceName, requester: z.string().max(256).optional() });
export type StoreDeployRequest = z.input<typeof StoreDeployRequest>;

export const StoreDeployReply = z.object({
  store: ResourceName,
  flavor: StoreFlavor,
  /** What was provisioned: `s3://bucket`, `az://container`, `file:///dir`. */
  resource: z.string(),
  /** false when it existed already (nothing was done). */
  created: z.boolean(),
});
export type StoreDeployReply = z.infer<typeof StoreDeployReply>;
