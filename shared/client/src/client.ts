import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { Readable } from 'node:stream';
import { jetstream, DeliverPolicy } from '@nats-io/jetstream';
import { z } from 'zod';
import {
  AbusError,
  ArtifactEvent,
  callEndpoint,
  ChunkReceiver,
  connectNats,
  CopyJob,
  createInbox,
  encodeJson,
  ensureJobs,
  jobSubjects,
  JobState,
  schemaError,
  endpoints,
  EVENTS_STREAM,
  sendChunks,
  TransferResult,
  withRetry,
  type AuditQueryRequest,
  type DownloadAccepted,
  type Endpoint,
  type ListReply,
  type NatsConnection,
  type ObjectSummary,
  type RegistryAuditQueryRequest,
  type SecretUpdateRequest,
  type StoreDefinition,
  type StoreUpdateRequest,
} from '@artifact-bus/contracts';

export interface ClientOptions {
  /** Defaults to NATS_URL, then nats://127.0.0.1:4222 (where `npm start` runs NATS). */
  natsUrl?: string;
  credsFile?: string;
  user?: string;
  password?: string;
  /** Who the events name as requester; defaults to ABUS_REQUESTER, then user@host. */
  requester?: string;
  /** A transfer fails when its worker is silent this long. */
  idleTimeoutMs?: number;
  /** Chunks a worker may send ahead of what a download has consumed. */
  downloadWindowChunks?: number;
  requestTimeoutMs?: number;
}

export interface UploadOptions {
  /** Declared size: lets the worker pick a part size and reject a body that runs over. */
  sizeBytes?: number;
  contentType?: string;
  metadata?: Record<string, string>;
  /** A digest known in advance: the upload commits only if the bytes match it. */
  sha256?: string;
  requestId?: string;
  onProgress?: (bytesSent: number) => void;
  signal?: AbortSignal;
}

export interface DownloadOptions {
  offset?: number;
  length?: number;
  requestId?: string;
  onProgress?: (bytesReceived: number) => void;
}

/** A download: a byte stream, with what the worker said about the object. */
export type DownloadStream = Readable & { info: DownloadAccepted };

/** A store name, or undefined for the active stack's store. */
export type StoreName = string | undefined;

/**
 * The TypeScript client of Artifact Bus. Transfers are streams in both directions, flow
 * controlled end to end: a slow store slows `upload`, a slow reader slows `download`.
 */
export class ArtifactBusClient {
  private constructor(
    readonly nc: NatsConnection,
    private readonly options: Required<Pick<ClientOptions, 'requester' | 'idleTimeoutMs' | 'downloadWindowChunks' | 'requestTimeoutMs'>>,
  ) {}

  static async connect(options: ClientOptions = {}): Promise<ArtifactBusClient> {
    const nc = await connectNats({
      url: options.natsUrl ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
      name: 'abus-client',
      credsFile: options.credsFile ?? process.env.NATS_CREDS,
      user: options.user ?? process.env.NATS_USER,
      password: options.password ?? process.env.NATS_PASSWORD,
    });
    return new ArtifactBusClient(nc, {
      requester: options.requester ?? process.env.ABUS_REQUESTER ?? `${userInfo().username}@${hostname()}`,
      idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
      downloadWindowChunks: options.downloadWindowChunks ?? 32,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    });
  }

  async close(): Promise<void> {
    await this.nc.drain();
  }

  private call<Req extends z.ZodType, Res extends z.ZodType>(ep: Endpoint<Req, Res>, request: z.input<Req>): Promise<z.infer<Res>> {
    return callEndpoint(this.nc, ep, request, { timeoutMs: this.options.requestTimeoutMs });
  }

  /** Starts a transfer; a busy worker answers WORKER_BUSY and the queue group offers the request again. */
  private startTransfer<Req extends z.ZodType, Res extends z.ZodType>(ep: Endpoint<Req, Res>, request: z.input<Req>): Promise<z.infer<Res>> {
    return withRetry(() => this.call(ep, request), {
      attempts: 30,
      baseDelayMs: 100,
      maxDelayMs: 2_000,
      retryable: (error) => error instanceof AbusError && error.code === 'WORKER_BUSY',
    });
  }

  /** Streams `source` into `store` at `key`; resolves once the object is committed and verified. */
  async upload(store: StoreName, key: string, source: AsyncIterable<Uint8Array>, options: UploadOptions = {}): Promise<TransferResult> {
    const creditSubject = createInbox();
    const control = this.nc.subscribe(creditSubject);
    let accepted;
    try {
      accepted = await this.startTransfer(endpoints.transfer.upload, {
        requestId: options.requestId ?? randomUUID(),
        store,
        key,
        sizeBytes: options.sizeBytes,
        contentType: options.contentType,
        metadata: options.metadata,
        requester: this.options.requester,
        creditSubject,
      });
    } catch (error) {
      control.unsubscribe();
      throw error;
    }
    const result = await sendChunks(this.nc, source, {
      dataSubject: accepted.dataSubject,
      control,
      windowChunks: accepted.windowChunks,
      chunkSizeBytes: accepted.chunkSizeBytes,
      idleTimeoutMs: this.options.idleTimeoutMs,
      declared: options.sha256 ? { sha256: options.sha256 } : undefined,
      onProgress: options.onProgress,
      signal: options.signal,
    });
    return TransferResult.parse(result);
  }

  /** Opens a (ranged) download; rejects before any byte when the object or store is missing. */
  async download(store: StoreName, key: string, options: DownloadOptions = {}): Promise<DownloadStream> {
    const dataSubject = createInbox();
    const data = this.nc.subscribe(dataSubject);
    let accepted: DownloadAccepted;
    try {
      accepted = await this.startTransfer(endpoints.transfer.download, {
        requestId: options.requestId ?? randomUUID(),
        store,
        key,
        offset: options.offset ?? 0,
        length: options.length,
        requester: this.options.requester,
        dataSubject,
        windowChunks: this.options.downloadWindowChunks,
      });
    } catch (error) {
      data.unsubscribe();
      throw error;
    }
    const receiver = new ChunkReceiver(this.nc, {
      data,
      controlSubject: accepted.creditSubject,
      windowChunks: this.options.downloadWindowChunks,
      idleTimeoutMs: this.options.idleTimeoutMs,
      maxSizeBytes: accepted.sizeBytes,
    });
    async function* verified(): AsyncGenerator<Buffer> {
      let settled = false;
      try {
        for await (const chunk of receiver) {
          try {
            yield chunk;
          } catch (error) {
            // Thrown in at `yield`: the reader destroyed the stream (Node throws an AbortError in), not a transfer failure.
            receiver.fail(new AbusError('TRANSFER_ABORTED', 'the reader closed the download'));
            settled = true;
            throw error;
          }
          options.onProgress?.(receiver.bytesReceived);
        }
        receiver.complete(receiver.result());
        settled = true;
      } catch (error) {
        receiver.fail(error); // a no-op when the reader's abort was sent first
        settled = true;
        throw error;
      } finally {
        // The reader stopped early: tell the worker, so it stops sending and frees its slot.
        if (!settled) receiver.fail(new AbusError('TRANSFER_ABORTED', 'the reader closed the download'));
      }
    }
    return Object.assign(Readable.from(verified(), { objectMode: false }), { info: accepted });
  }

  /**
   * Cancels a running upload, download or copy job by its request (or job) id: its parts are
   * aborted and a `cancelled` event is recorded. TRANSFER_NOT_FOUND when no worker runs it.
   */
  async cancel(requestId: string): Promise<{ requestId: string; workerId: string }> {
    try {
      return await callEndpoint(this.nc, endpoints.transfer.cancel, { requestId, requester: this.options.requester }, { timeoutMs: 3_000 });
    } catch (error) {
      // Only the worker running it answers: silence means no worker runs it.
      if (error instanceof AbusError && error.code === 'SERVICE_UNAVAILABLE') {
        throw new AbusError('TRANSFER_NOT_FOUND', `no running transfer or copy job has the id "${requestId}"`);
      }
      throw error;
    }
  }

  stat(store: StoreName, key: string) {
    return this.call(endpoints.transfer.stat, { store, key });
  }

  list(store: StoreName, prefix = '', page: { pageSize?: number; pageToken?: string } = {}): Promise<ListReply> {
    return this.call(endpoints.transfer.list, { store, prefix, ...page });
  }

  /** Every object under `prefix`, page after page. */
  async *listAll(store: StoreName, prefix = ''): AsyncGenerator<ObjectSummary> {
    let pageToken: string | undefined;
    do {
      const page = await this.list(store, prefix, { pageToken });
      yield* page.objects;
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  delete(store: StoreName, key: string, options: { requestId?: string } = {}) {
    return this.call(endpoints.transfer.delete, { store, key, requestId: options.requestId ?? randomUUID(), requester: this.options.requester });
  }

  // Every change names the requester, so that its registry event and audit row say who asked.
  readonly stores = {
    register: (name: string, definition: StoreDefinition) => this.call(endpoints.registry.storeRegister, { name, ...definition, requester: this.options.requester }),
    list: async () => (await this.call(endpoints.registry.storeList, {})).stores,
    describe: (name: string) => this.call(endpoints.registry.storeDescribe, { name }),
    /** Each field given replaces the stored one: `authenticationSecret: null` removes the secret, an empty option object removes that option. */
    update: (name: string, changes: Omit<StoreUpdateRequest, 'name' | 'requester'>) =>
      this.call(endpoints.registry.storeUpdate, { name, ...changes, requester: this.options.requester }),
    /** Renames a store; the stacks that use it follow. */
    rename: (name: string, newName: string) => this.call(endpoints.registry.storeRename, { name, newName, requester: this.options.requester }),
    delete: (name: string, options: { force?: boolean } = {}) =>
      this.call(endpoints.registry.storeDelete, { name, force: options.force ?? false, requester: this.options.requester }),
    /** Creates the bucket, container or folder that the store's path points to, when it is missing. */
    deploy: (name: string) => this.call(endpoints.transfer.deploy, { store: name, requester: this.options.requester }),
  };

  readonly secrets = {
    create: (name: string, values: Record<string, string>) => this.call(endpoints.registry.secretCreate, { name, values, requester: this.options.requester }),
    list: async () => (await this.call(endpoints.registry.secretList, {})).secrets,
    /** Keys, dates and the stores that use it; never values. */
    describe: (name: string) => this.call(endpoints.registry.secretDescribe, { name }),
    /** Merges `values` into the secret's and drops `removeKeys`. */
    update: (name: string, changes: Omit<SecretUpdateRequest, 'name' | 'requester'>) =>
      this.call(endpoints.registry.secretUpdate, { name, ...changes, requester: this.options.requester }),
    delete: (name: string) => this.call(endpoints.registry.secretDelete, { name, requester: this.options.requester }),
    /** Re-seals every secret under the registry's current key, so that the previous keys can be dropped. */
    rotateKey: () => this.call(endpoints.registry.secretReseal, { requester: this.options.requester }),
  };

  readonly stacks = {
    register: (name: string, artifactStore: string, options: { setActive?: boolean } = {}) =>
      this.call(endpoints.registry.stackRegister, { name, artifactStore, setActive: options.setActive ?? false, requester: this.options.requester }),
    list: async () => (await this.call(endpoints.registry.stackList, {})).stacks,
    /** The named stack, or the active one. */
    describe: (name?: string) => this.call(endpoints.registry.stackDescribe, { name }),
    set: (name: string) => this.call(endpoints.registry.stackSet, { name, requester: this.options.requester }),
    delete: (name: string) => this.call(endpoints.registry.stackDelete, { name, requester: this.options.requester }),
  };

  readonly audit = {
    query: async (query: AuditQueryRequest = {}) => (await this.call(endpoints.audit.query, query)).records,
    /** How far the audit trail is behind the events stream. */
    lag: () => this.call(endpoints.audit.lag, {}),
    /** Recorded registry changes: stores, secrets and stacks. */
    queryRegistry: async (query: RegistryAuditQueryRequest = {}) => (await this.call(endpoints.audit.registryQuery, query)).records,
  };

  /**
   * Copies `source` to `destination` (store to store, any flavors) as a durable job: it survives
   * this client going away, and a worker that dies mid-copy hands it to another. Resolves with
   * the job's final state: what was copied, skipped (already identical) and failed.
   * With `recursive`, both keys are prefixes.
   */
  async copy(
    source: { store?: string; key: string },
    destination: { store?: string; key: string },
    options: { recursive?: boolean; overwrite?: boolean; jobId?: string; onProgress?: (state: JobState) => void; signal?: AbortSignal } = {},
  ): Promise<JobState> {
    const parsed = CopyJob.safeParse({
      jobId: options.jobId ?? randomUUID(),
      source,
      destination,
      recursive: options.recursive ?? false,
      overwrite: options.overwrite ?? false,
      requester: this.options.requester,
    });
    if (!parsed.success) throw schemaError(parsed.error);
    const job = parsed.data;
    const kv = await ensureJobs(this.nc);
    // Watch before publishing, so not even a fast job's end is missed.
    const watcher = await kv.watch({ key: job.jobId });
    const stop = () => watcher.stop();
    options.signal?.addEventListener('abort', stop, { once: true });
    try {
      await jetstream(this.nc).publish(jobSubjects.copy, encodeJson(job), { msgID: job.jobId });
      for await (const entry of watcher) {
        if (entry.operation !== 'PUT') continue;
        const state = JobState.parse(entry.json());
        options.onProgress?.(state);
        if (state.state !== 'running') return state;
      }
      throw new AbusError('TRANSFER_ABORTED', `stopped waiting for copy job ${job.jobId}; it goes on without this client`);
    } finally {
      options.signal?.removeEventListener('abort', stop);
      watcher.stop();
    }
  }

  /** Artifact events as they happen (or from `since`), until `signal` aborts. */
  async *tailEvents(options: { since?: Date; signal?: AbortSignal } = {}): AsyncGenerator<ArtifactEvent> {
    // The stream holds only events; no subject filter (filter_subjects needs nats-server 2.10).
    const consumer = await jetstream(this.nc).consumers.get(EVENTS_STREAM, {
      deliver_policy: options.since ? DeliverPolicy.StartTime : DeliverPolicy.New,
      ...(options.since ? { opt_start_time: options.since.toISOString() } : {}),
    });
    const messages = await consumer.consume();
    const stop = () => void messages.close();
    if (options.signal?.aborted) stop();
    options.signal?.addEventListener('abort', stop, { once: true });
    try {
      for await (const msg of messages) {
        // Anyone may publish on the events subjects: what is not an event is skipped, not fatal to the tail.
        const event = ArtifactEvent.safeParse(parseJsonOrUndefined(msg.string()));
        if (event.success) yield event.data;
      }
    } finally {
      options.signal?.removeEventListener('abort', stop);
      await messages.close();
    }
  }
}

function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
