import { AckPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { nanos } from '@nats-io/nats-core';
import {
  AbusError,
  COPY_CONSUMER,
  CopyJob,
  decodeJson,
  encodeJson,
  ensureJobs,
  JOB_LIST_LIMIT,
  jobSubjects,
  JOBS_STREAM,
  schemaError,
  toAbusError,
  type EventPublisher,
  type JobState,
  type Logger,
  type NatsConnection,
} from '@artifact-bus/contracts';
import { hashingBody } from '@artifact-bus/storage';
import type { OpenStore, StoreResolver } from './store-resolver.ts';

export interface CopyJobOptions {
  workerId: string;
  /** Jobs this worker runs at once; each copies one object at a time. */
  maxConcurrentJobs: number;
  /** How long a job may go without a heartbeat before JetStream offers it to another worker. */
  ackWaitMs: number;
  /** Deliveries of one job before it is given up (a job that crashes its worker every time). */
  maxDeliveries: number;
}

/** Errors worth another delivery: the job itself is fine, something it needs is not there now. */
const TRANSIENT = new Set(['SERVICE_UNAVAILABLE', 'BACKEND_UNAVAILABLE']);
/** Job-state updates are written at most this often while a job runs (and always at its end). */
const STATE_WRITE_INTERVAL_MS = 250;

/**
 * Runs copy jobs from the ABUS_JOBS work queue. Objects stream from the source backend to the
 * destination backend with each backend's bounded part buffers (no local staging), are verified
 * against the source's recorded size and sha256 before the destination commits, and produce the
 * same lifecycle events as transfers, with both ends named. A failed object does not stop the
 * job; identical objects already at the destination are skipped, so a re-run copies what is missing.
 */
export class CopyJobRunner {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private readonly running = new Set<Promise<void>>();
  /** Jobs under way by id, so that they can be cancelled or handed back. */
  private readonly controllers = new Map<string, AbortController>();
  private kv: KV | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly stores: StoreResolver,
    private readonly events: EventPublisher,
    private readonly logger: Logger,
    private readonly options: CopyJobOptions,
  ) {}

  async start(): Promise<void> {
    this.kv = await ensureJobs(this.nc);
    const jsm = await jetstreamManager(this.nc);
    await jsm.consumers.add(JOBS_STREAM, {
      durable_name: COPY_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      filter_subject: jobSubjects.copy,
      ack_wait: nanos(this.options.ackWaitMs),
      max_deliver: this.options.maxDeliveries,
    });
    const consumer = await jetstream(this.nc).consumers.get(JOBS_STREAM, COPY_CONSUMER);
    this.messages = await consumer.consume({ max_messages: this.options.maxConcurrentJobs });
    this.loop = (async () => {
      for await (const msg of this.messages ?? []) {
        const task = this.run(msg).finally(() => this.running.delete(task));
        this.running.add(task);
        if (this.running.size >= this.options.maxConcurrentJobs) await Promise.race(this.running);
      }
    })();
  }

  /** Cancels a job under way on this worker; false when it runs elsewhere or not at all. */
  cancel(jobId: string, reason: AbusError): boolean {
    const controller = this.controllers.get(jobId);
    controller?.abort(reason);
    return controller !== undefined;
  }

  /** Stops taking jobs; jobs still running after the grace period are stopped and handed back to the queue. */
  async stop(graceMs: number, reason: AbusError): Promise<void> {
    await this.messages?.close();
    await this.loop;
    const finished = Promise.allSettled(this.running).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([finished, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)))]);
    clearTimeout(timer);
    if (!inTime) {
      for (const controller of this.controllers.values()) controller.abort(reason);
      await finished;
    }
  }

  private async run(msg: JsMsg): Promise<void> {
    let job: CopyJob;
    try {
      const parsed = CopyJob.safeParse(decodeJson(msg.data));
      if (!parsed.success) throw schemaError(parsed.error);
      job = parsed.data;
    } catch (error) {
      // A job that can never run: drop it from the queue, and say so.
      const body = safeObject(msg.data);
      const jobId = typeof body.jobId === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(body.jobId) ? body.jobId : null;
      await this.events.artifact('failed', 'copy', { jobId, workerId: this.options.workerId, error: toAbusError(error).toPayload() }).catch(() => undefined);
      if (jobId) await this.writeState(failedState(jobId, body, toAbusError(error), this.options.workerId));
      msg.term();
      return;
    }
    // Tell JetStream the job is alive, so a long copy is not offered to another worker.
    const heartbeat = setInterval(() => msg.working(), Math.max(1000, this.options.ackWaitMs / 3));
    const controller = new AbortController();
    this.controllers.set(job.jobId, controller);
    try {
      await this.copy(job, controller.signal);
      msg.ack();
    } catch (error) {
      const failure = toAbusError(controller.signal.aborted ? controller.signal.reason : error);
      if (controller.signal.aborted && failure.code === 'SERVICE_UNAVAILABLE') {
        // This worker is shutting down: another one takes the job over; identical objects are skipped.
        msg.nak();
      } else if (controller.signal.aborted) {
        await this.events.artifact('cancelled', 'copy', { ...this.jobFields(job), error: failure.toPayload() }).catch(() => undefined);
        msg.ack();
      } else if (TRANSIENT.has(failure.code) && (msg.info.deliveryCount ?? 1) < this.options.maxDeliveries) {
        this.logger.warn({ jobId: job.jobId, code: failure.code }, 'copy job hit a transient error; it will be redelivered');
        msg.nak(5_000);
      } else {
        await this.writeState(failedState(job.jobId, job, failure, this.options.workerId));
        await this.events.artifact('failed', 'copy', { ...this.jobFields(job), error: failure.toPayload() }).catch(() => undefined);
        msg.ack();
      }
    } finally {
      clearInterval(heartbeat);
      this.controllers.delete(job.jobId);
    }
  }

  private jobFields(job: CopyJob) {
    return {
      jobId: job.jobId,
      requestId: job.jobId,
      requester: job.requester,
      workerId: this.options.workerId,
      store: job.destination.store ?? null,
      key: job.destination.key,
      sourceStore: job.source.store ?? null,
      sourceKey: job.source.key,
    };
  }

  private async copy(job: CopyJob, signal: AbortSignal): Promise<void> {
    const source = await this.stores.open(job.source.store);
    const destination = await this.stores.open(job.destination.store);
    const state: JobState = {
      ...emptyState(job.jobId, this.options.workerId),
      source: { store: source.store.name, key: job.source.key },
      destination: { store: destination.store.name, key: job.destination.key },
    };
    await this.events.artifact('requested', 'copy', {
      ...this.jobFields(job),
      store: destination.store.name,
      sourceStore: source.store.name,
      uri: destination.backend.uri(job.destination.key || '.'),
      sourceUri: source.backend.uri(job.source.key || '.'),
    });
    await this.writeState(state);
    let lastWrite = Date.now();

    const stopIfAborted = async () => {
      if (!signal.aborted) return;
      const reason = toAbusError(signal.reason);
      // Cancelled by a user: final. A worker shutting down leaves the state to the worker that takes the job over.
      if (reason.code === 'TRANSFER_ABORTED') await this.writeState({ ...state, state: 'cancelled', error: reason.toPayload() });
      throw reason;
    };
    for await (const [sourceKey, destinationKey] of this.objectsOf(job, source)) {
      await stopIfAborted();
      state.objectsTotal++;
      const outcome = await this.copyObject(job, source, sourceKey, destination, destinationKey, signal).catch((error: unknown) => ({ failed: toAbusError(error) }));
      if ('failed' in outcome) {
        state.objectsFailed++;
        if (state.failed.length < JOB_LIST_LIMIT) state.failed.push({ key: sourceKey, error: outcome.failed.toPayload() });
      } else if (outcome.skipped) {
        state.objectsSkipped++;
        if (state.skipped.length < JOB_LIST_LIMIT) state.skipped.push(sourceKey);
      } else {
        state.objectsCopied++;
        state.bytesCopied += outcome.sizeBytes;
        if (state.copied.length < JOB_LIST_LIMIT) state.copied.push({ key: sourceKey, sizeBytes: outcome.sizeBytes, sha256: outcome.sha256, method: outcome.method });
      }
      if (Date.now() - lastWrite >= STATE_WRITE_INTERVAL_MS) {
        await this.writeState(state);
        lastWrite = Date.now();
      }
    }
    await stopIfAborted();
    state.state = state.objectsFailed > 0 ? 'failed' : 'completed';
    await this.writeState(state);
    this.logger.info({ jobId: job.jobId, copied: state.objectsCopied, skipped: state.objectsSkipped, failed: state.objectsFailed }, 'copy job finished');
  }

  /** Pairs of (source key, destination key): one, or every object under the source prefix. */
  private async *objectsOf(job: CopyJob, source: OpenStore): AsyncGenerator<[string, string]> {
    if (!job.recursive) {
      yield [job.source.key, job.destination.key];
      return;
    }
    let pageToken: string | undefined;
    do {
      const page = await source.backend.list(job.source.key, { pageSize: 1000, pageToken });
      for (const object of page.objects) yield [object.key, job.destination.key + object.key.slice(job.source.key.length)];
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  private async copyObject(
    job: CopyJob,
    source: OpenStore,
    sourceKey: string,
    destination: OpenStore,
    destinationKey: string,
    signal: AbortSignal,
  ): Promise<{ skipped: true } | { skipped: false; sizeBytes: number; sha256: string; method: 'server-side' | 'streamed' }> {
    const fields = {
      ...this.jobFields(job),
      requestId: `${job.jobId}:${sourceKey}`.slice(0, 128),
      store: destination.store.name,
      key: destinationKey,
      uri: destination.backend.uri(destinationKey),
      sourceStore: source.store.name,
      sourceKey,
      sourceUri: source.backend.uri(sourceKey),
    };
    try {
      const object = await source.backend.stat(sourceKey);
      if (!job.overwrite && object.sha256) {
        const existing = await destination.backend.stat(destinationKey).catch((error: AbusError) => {
          if (error.code === 'OBJECT_NOT_FOUND') return null;
          throw error;
        });
        if (existing?.sha256 === object.sha256) return { skipped: true };
      }
      await this.events.artifact('started', 'copy', { ...fields, sizeBytes: object.sizeBytes }).catch(() => undefined);
      const serverSide = await destination.backend.copyFrom?.(source.backend, sourceKey, object, destinationKey);
      if (serverSide) {
        await this.events.artifact('completed', 'copy', { ...fields, ...serverSide }).catch(() => undefined);
        return { skipped: false, ...serverSide, method: 'server-side' };
      }
      const read = await source.backend.get(sourceKey);
      // Verified against the source's record before the destination commits: a changed or rotten source copies nothing.
      const body = hashingBody(abortable(read.body, signal), { sizeBytes: read.sizeBytes, sha256: read.object.sha256 });
      const stored = await destination.backend.put(destinationKey, body, {
        sizeBytes: read.sizeBytes,
        contentType: read.object.contentType ?? undefined,
        metadata: read.object.metadata,
      });
      await this.events.artifact('completed', 'copy', { ...fields, ...stored }).catch(() => undefined);
      return { skipped: false, ...stored, method: 'streamed' };
    } catch (error) {
      const failure = toAbusError(error);
      await this.events.artifact('failed', 'copy', { ...fields, error: failure.toPayload() }).catch(() => undefined);
      throw failure;
    }
  }

  private async writeState(state: JobState): Promise<void> {
    try {
      await this.kv?.put(state.jobId, encodeJson({ ...state, updatedAt: new Date().toISOString() }));
    } catch (error) {
      this.logger.warn({ err: error, jobId: state.jobId }, 'could not write the job state');
    }
  }
}

function emptyState(jobId: string, workerId: string): JobState {
  return {
    jobId,
    state: 'running',
    source: { store: null, key: '' },
    destination: { store: null, key: '' },
    objectsTotal: 0,
    objectsCopied: 0,
    objectsSkipped: 0,
    objectsFailed: 0,
    bytesCopied: 0,
    copied: [],
    skipped: [],
    failed: [],
    error: null,
    workerId,
    updatedAt: new Date().toISOString(),
  };
}

function failedState(jobId: string, job: { source?: unknown; destination?: unknown }, error: AbusError, workerId: string): JobState {
  const end = (value: unknown) => {
    const v = (typeof value === 'object' && value !== null ? value : {}) as { store?: unknown; key?: unknown };
    return { store: typeof v.store === 'string' ? v.store.slice(0, 63) : null, key: typeof v.key === 'string' ? v.key.slice(0, 1024) : '' };
  };
  return { ...emptyState(jobId, workerId), state: 'failed', source: end(job.source), destination: end(job.destination), error: error.toPayload() };
}

/** Stops a byte source at the next chunk once `signal` aborts: the destination then aborts its upload. */
async function* abortable(source: AsyncIterable<Uint8Array>, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    signal.throwIfAborted();
    yield chunk;
  }
}

function safeObject(data: Uint8Array): Record<string, unknown> {
  try {
    const value = decodeJson(data);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
