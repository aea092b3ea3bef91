import { randomUUID } from 'node:crypto';
import {
  AbusError,
  assertValidKey,
  chunkSizeFor,
  ChunkReceiver,
  createInbox,
  endpoints,
  ensureEventsStream,
  EventPublisher,
  encodeJson,
  parseMessage,
  subjects,
  queueGroups,
  sendChunks,
  serveEndpoint,
  toAbusError,
  TransferResult,
  type ArtifactEventFields,
  type ArtifactEventType,
  type DownloadAccepted,
  type DownloadRequest,
  type Logger,
  type NatsConnection,
  type Subscription,
  type TransferOperation,
  type UploadAccepted,
  type UploadRequest,
} from '@artifact-bus/contracts';
import type { ObjectRead } from '@artifact-bus/storage';
import { CopyJobRunner } from './copy-jobs.ts';
import { serveStoreDeploy } from './store-deploy.ts';
import { StoreResolver, type OpenStore } from './store-resolver.ts';

export interface TransferWorkerOptions {
  workerId: string;
  /** Uploads and downloads running at once; a request beyond it is answered WORKER_BUSY (the client retries elsewhere). */
  maxConcurrentTransfers: number;
  partSizeBytes: number;
  partsInFlight: number;
  /** Preferred chunk size; capped by the NATS server's max_payload. */
  chunkSizeBytes: number;
  /** Chunks a peer may send ahead of what has been consumed. */
  windowChunks: number;
  idleTimeoutMs: number;
  /** On stop, how long transfers under way may take to finish before they are cancelled (default 30 s). */
  drainGraceMs?: number;
  /** Copy jobs run at once (default 2). */
  maxConcurrentJobs?: number;
  /** A copy job whose worker sends no heartbeat this long is offered to another worker (default 30 s). */
  jobAckWaitMs?: number;
  /** Deliveries of one copy job before it is given up (default 5). */
  jobMaxDeliveries?: number;
}

/**
 * A transfer worker. Every instance joins the `abus-transfer` queue group, so any number of
 * them share the requests. Each transfer holds at most part size x (parts in flight + 1)
 * plus window x chunk size bytes, whatever the artifact's size.
 */
export class TransferWorker {
  private readonly stores: StoreResolver;
  private readonly events: EventPublisher;
  private readonly running = new Set<Promise<void>>();
  /** Transfers under way by request id, so that they can be cancelled. */
  private readonly cancellable = new Map<string, AbortController>();
  /** Transfers accepted or being set up; counted before any await so that bursts cannot overshoot the limit. */
  private slotsTaken = 0;
  private subscriptions: Subscription[] = [];
  private readonly chunkSizeBytes: number;
  private readonly copyJobs: CopyJobRunner;

  constructor(
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
    private readonly options: TransferWorkerOptions,
  ) {
    this.stores = new StoreResolver(nc, { partSizeBytes: options.partSizeBytes, partsInFlight: options.partsInFlight });
    this.events = new EventPublisher(nc, logger);
    this.chunkSizeBytes = chunkSizeFor(nc, options.chunkSizeBytes);
    this.copyJobs = new CopyJobRunner(nc, this.stores, this.events, logger, {
      workerId: options.workerId,
      maxConcurrentJobs: options.maxConcurrentJobs ?? 2,
      ackWaitMs: options.jobAckWaitMs ?? 30_000,
      maxDeliveries: options.jobMaxDeliveries ?? 5,
    });
  }

  /** Transfers under way on this worker. */
  get activeTransfers(): number {
    return this.running.size;
  }

  async start(): Promise<void> {
    await ensureEventsStream(this.nc);
    const serve = { queue: queueGroups.transfer, logger: this.logger };
    const { transfer } = endpoints;
    this.subscriptions = [
      serveEndpoint(this.nc, transfer.upload, (request) => this.acceptUpload(request), { ...serve, onRefused: this.refused('upload') }),
      serveEndpoint(this.nc, transfer.download, (request) => this.acceptDownload(request), { ...serve, onRefused: this.refused('download') }),
      serveEndpoint(
        this.nc,
        transfer.stat,
        async ({ store, key }) => {
          const target = await this.stores.open(store);
          return { store: target.store.name, uri: target.backend.uri(key), object: await target.backend.stat(key) };
        },
        serve,
      ),
      serveEndpoint(
        this.nc,
        transfer.list,
        async ({ store, prefix, pageSize, pageToken }) => {
          const target = await this.stores.open(store);
          return { store: target.store.name, ...(await target.backend.list(prefix, { pageSize, pageToken })) };
        },
        serve,
      ),
      serveEndpoint(this.nc, transfer.delete, (request) => this.deleteObject(request), { ...serve, onRefused: this.refused('delete') }),
      serveStoreDeploy(this.nc, this.stores, this.events, this.logger, serve),
      this.serveCancel(),
    ];
    await this.copyJobs.start();
  }

  /** A transfer request refused by its schema still gets a failed event, with what could be read of it. */
  private refused(operation: TransferOperation) {
    return async (body: unknown, error: AbusError): Promise<void> => {
      const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
      const text = (value: unknown, max: number) => (typeof value === 'string' ? value.slice(0, max) : null);
      await this.emit('failed', operation, {
        requestId: text(fields.requestId, 128),
        store: text(fields.store, 63),
        key: text(fields.key, 1024),
        requester: text(fields.requester, 256),
        error: error.toPayload(),
      });
    };
  }

  /**
   * Drains: stops taking requests and jobs, lets the transfers under way finish within the grace
   * period, then cancels what is left (their clients get SERVICE_UNAVAILABLE and may retry on
   * another worker) and hands unfinished copy jobs back to the queue.
   */
  async stop(graceMs = this.options.drainGraceMs ?? 30_000): Promise<void> {
    await Promise.all(this.subscriptions.map((s) => s.drain()));
    const shuttingDown = new AbusError('SERVICE_UNAVAILABLE', `worker ${this.options.workerId} is shutting down; retry`);
    const jobs = this.copyJobs.stop(graceMs, shuttingDown);
    const finished = Promise.allSettled(this.running).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([finished, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)))]);
    clearTimeout(timer);
    if (!inTime) {
      this.logger.warn({ transfers: this.cancellable.size }, 'grace period over: cancelling the transfers still under way');
      for (const controller of this.cancellable.values()) controller.abort(shuttingDown);
      await finished;
    }
    await jobs;
    this.stores.close();
  }

  /** Runs a transfer in the background, cancellable by its request id through `signal`. */
  private track(requestId: string, run: (signal: AbortSignal) => Promise<void>): void {
    const controller = new AbortController();
    this.cancellable.set(requestId, controller);
    const tracked = run(controller.signal).finally(() => {
      this.running.delete(tracked);
      if (this.cancellable.get(requestId) === controller) this.cancellable.delete(requestId);
    });
    this.running.add(tracked);
  }

  /** Cancels the transfer or copy job with this id if this worker runs it. */
  cancel(requestId: string, requester: string | undefined): boolean {
    const reason = new AbusError('TRANSFER_ABORTED', `cancelled${requester ? ` by ${requester}` : ''}`);
    const controller = this.cancellable.get(requestId);
    if (controller) {
      controller.abort(reason);
      return true;
    }
    return this.copyJobs.cancel(requestId, reason);
  }

  /** Listens on the cancel subject: every worker hears it, the one running the transfer answers. */
  private serveCancel(): Subscription {
    const subscription = this.nc.subscribe(subjects.transfer.cancel);
    void (async () => {
      for await (const msg of subscription) {
        let reply: unknown;
        try {
          const request = parseMessage(endpoints.transfer.cancel.request, msg.data);
          if (!this.cancel(request.requestId, request.requester)) continue;
          this.logger.info({ requestId: request.requestId }, 'transfer cancelled');
          reply = { ok: true, result: { requestId: request.requestId, cancelled: true, workerId: this.options.workerId } };
        } catch (error) {
          reply = { ok: false, error: toAbusError(error).toPayload() };
        }
        if (msg.reply) msg.respond(encodeJson(reply));
      }
    })();
    return subscription;
  }

  /** Takes a transfer slot, or answers WORKER_BUSY; the returned function gives it back (once). */
  private takeSlot(): () => void {
    if (this.slotsTaken >= this.options.maxConcurrentTransfers) {
      throw new AbusError('WORKER_BUSY', `worker ${this.options.workerId} is running ${this.slotsTaken} transfers`);
    }
    this.slotsTaken++;
    let released = false;
    return () => {
      if (!released) this.slotsTaken--;
      released = true;
    };
  }

  /** Runs `accept` holding a slot; the slot is given back when the transfer it starts ends, or when accepting fails. */
  private async withSlot<T>(accept: (release: () => void) => Promise<T>): Promise<T> {
    const release = this.takeSlot();
    try {
      return await accept(release);
    } catch (error) {
      release();
      throw error;
    }
  }

  private emit(type: ArtifactEventType, operation: TransferOperation, fields: ArtifactEventFields): Promise<void> {
    return this.events.artifact(type, operation, { workerId: this.options.workerId, ...fields }).then(
      () => undefined,
      () => undefined, // logged by the publisher; a lost event must not fail a committed transfer
    );
  }

  /** Opens the store and checks the key; any failure is reported as a failed event, then thrown to the requester. */
  private async prepare(operation: TransferOperation, fields: ArtifactEventFields & { key: string }, store: string | undefined): Promise<OpenStore> {
    await this.emit('requested', operation, { ...fields, store: store ?? null });
    try {
      assertValidKey(fields.key);
      return await this.stores.open(store);
    } catch (error) {
      await this.emit('failed', operation, { ...fields, store: store ?? null, error: toAbusError(error).toPayload() });
      throw error;
    }
  }

  private acceptUpload(request: UploadRequest): Promise<UploadAccepted> {
    return this.withSlot((release) => this.startUpload(request, release));
  }

  private async startUpload(request: UploadRequest, release: () => void): Promise<UploadAccepted> {
    const requestId = request.requestId ?? randomUUID();
    const fields = { requestId, key: request.key, requester: request.requester, sizeBytes: request.sizeBytes };
    const { store, backend } = await this.prepare('upload', fields, request.store);
    const uri = backend.uri(request.key);
    const dataSubject = createInbox();
    const data = this.nc.subscribe(dataSubject);
    const context = { ...fields, store: store.name, uri };
    this.track(requestId, (signal) =>
      (async () => {
        const receiver = new ChunkReceiver(this.nc, {
          data,
          controlSubject: request.creditSubject,
          windowChunks: this.options.windowChunks,
          idleTimeoutMs: this.options.idleTimeoutMs,
          maxSizeBytes: request.sizeBytes,
          signal,
        });
        await this.emit('started', 'upload', context);
        try {
          const stored = await backend.put(request.key, receiver, { sizeBytes: request.sizeBytes, contentType: request.contentType, metadata: request.metadata });
          await this.emit('completed', 'upload', { ...context, ...stored });
          receiver.complete(TransferResult.parse({ requestId, store: store.name, key: request.key, uri, ...stored }));
          this.logger.info({ requestId, store: store.name, key: request.key, sizeBytes: stored.sizeBytes }, 'upload completed');
        } catch (error) {
          const failure = toAbusError(signal.aborted ? signal.reason : error);
          receiver.fail(failure);
          await this.emit(cancelledOrFailed(signal), 'upload', { ...context, sizeBytes: receiver.bytesReceived, error: failure.toPayload() });
          this.logger.warn({ requestId, code: failure.code, err: failure.code === 'INTERNAL' ? error : undefined }, 'upload failed');
        }
      })().finally(release),
    );
    return {
      transferId: dataSubject,
      requestId,
      store: store.name,
      key: request.key,
      uri,
      dataSubject,
      chunkSizeBytes: this.chunkSizeBytes,
      windowChunks: this.options.windowChunks,
    };
  }

  private acceptDownload(request: DownloadRequest): Promise<DownloadAccepted> {
    return this.withSlot((release) => this.startDownload(request, release));
  }

  private async startDownload(request: DownloadRequest, release: () => void): Promise<DownloadAccepted> {
    const requestId = request.requestId ?? randomUUID();
    const fields = { requestId, key: request.key, requester: request.requester };
    const { store, backend } = await this.prepare('download', fields, request.store);
    const uri = backend.uri(request.key);
    const context = { ...fields, store: store.name, uri };
    let read: ObjectRead;
    try {
      read = await backend.get(request.key, { offset: request.offset, length: request.length });
    } catch (error) {
      await this.emit('failed', 'download', { ...context, error: toAbusError(error).toPayload() });
      throw error;
    }
    const creditSubject = createInbox();
    const control = this.nc.subscribe(creditSubject);
    const wholeObject = read.offset === 0 && read.sizeBytes === read.object.sizeBytes;
    this.track(requestId, (signal) =>
      (async () => {
        await this.emit('started', 'download', { ...context, sizeBytes: read.sizeBytes });
        try {
          const received = TransferResult.pick({ sizeBytes: true, sha256: true }).parse(
            await sendChunks(this.nc, read.body, {
              dataSubject: request.dataSubject,
              control,
              windowChunks: Math.min(request.windowChunks ?? this.options.windowChunks, this.options.windowChunks * 4),
              chunkSizeBytes: this.chunkSizeBytes,
              idleTimeoutMs: this.options.idleTimeoutMs,
              // Declaring the recorded digest makes the client detect an object that rotted in the store.
              declared: wholeObject && read.object.sha256 ? { sha256: read.object.sha256 } : undefined,
              signal,
            }),
          );
          await this.emit('completed', 'download', { ...context, ...received });
        } catch (error) {
          const failure = toAbusError(signal.aborted ? signal.reason : error);
          await this.emit(cancelledOrFailed(signal), 'download', { ...context, error: failure.toPayload() });
          this.logger.warn({ requestId, code: failure.code, err: failure.code === 'INTERNAL' ? error : undefined }, 'download failed');
        }
      })().finally(release),
    );
    return { transferId: creditSubject, requestId, store: store.name, uri, creditSubject, offset: read.offset, sizeBytes: read.sizeBytes, object: read.object };
  }

  private async deleteObject(request: { requestId?: string; store?: string; key: string; requester?: string }) {
    const requestId = request.requestId ?? randomUUID();
    const fields = { requestId, key: request.key, requester: request.requester };
    const { store, backend } = await this.prepare('delete', fields, request.store);
    const uri = backend.uri(request.key);
    try {
      const deleted = await backend.delete(request.key);
      if (deleted) await this.emit('deleted', 'delete', { ...fields, store: store.name, uri });
      return { requestId, store: store.name, key: request.key, uri, deleted };
    } catch (error) {
      await this.emit('failed', 'delete', { ...fields, store: store.name, uri, error: toAbusError(error).toPayload() });
      throw error;
    }
  }
}

/** A transfer stopped through its signal was cancelled (by a user, or by a draining worker); otherwise it failed. */
function cancelledOrFailed(signal: AbortSignal): 'cancelled' | 'failed' {
  return signal.aborted && signal.reason instanceof AbusError && signal.reason.code === 'TRANSFER_ABORTED' ? 'cancelled' : 'failed';
}
