import { createHash } from 'node:crypto';
import { callEndpoint, endpoints, type ArtifactStore, type NatsConnection } from '@artifact-bus/contracts';
import { createBackend, type BackendTuning, type StorageBackend } from '@artifact-bus/storage';

export interface OpenStore {
  store: ArtifactStore;
  backend: StorageBackend;
}

/** Most distinct store configurations a worker keeps clients for. */
const MAX_BACKENDS = 64;

/**
 * Resolves a store (the active stack's when no name is given) through the registry on every
 * request, so registry changes apply at once, and reuses one backend client per distinct
 * configuration and credentials, so connections are pooled across transfers.
 */
export class StoreResolver {
  /** Promises, so that concurrent first uses of a store share one backend. */
  private readonly backends = new Map<string, Promise<StorageBackend>>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly tuning: BackendTuning,
  ) {}

  async open(name: string | undefined): Promise<OpenStore> {
    const resolved = await callEndpoint(this.nc, endpoints.registry.storeResolve, { name }, { timeoutMs: 10_000 });
    const fingerprint = createHash('sha256').update(JSON.stringify(resolved)).digest('hex');
    let backend = this.backends.get(fingerprint);
    if (!backend) {
      backend = createBackend(resolved, this.tuning);
      backend.catch(() => this.backends.delete(fingerprint));
      this.backends.set(fingerprint, backend);
      if (this.backends.size > MAX_BACKENDS) {
        const [oldest] = this.backends.keys();
        if (oldest !== undefined) this.backends.delete(oldest);
      }
    } else {
      // Keep recently used entries at the end of the map's order.
      this.backends.delete(fingerprint);
      this.backends.set(fingerprint, backend);
    }
    return { store: resolved.store, backend: await backend };
  }

  close(): void {
    for (const backend of this.backends.values()) void backend.then((b) => b.close(), () => undefined);
    this.backends.clear();
  }
}
