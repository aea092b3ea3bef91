import { createHash } from 'node:crypto';
import { z } from 'zod';
import { headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { AbusError, ErrorPayload, toAbusError } from './errors.ts';
import { encodeJson, parseMessage } from './rpc.ts';

/**
 * The flow-controlled byte stream that carries artifacts over core NATS, used in both
 * directions (client → worker for uploads, worker → client for downloads).
 *
 * Data channel, sender → receiver: messages with an `Abus-Kind` header:
 *   chunk (binary body, `Abus-Seq` 0,1,2,...), end ({sizeBytes, sha256} JSON), abort (error JSON), ping.
 * Control channel, receiver → sender: JSON ControlMessage: credit (the sender may send chunks
 *   with seq < upTo), done (the receiver committed; carries its result), error.
 *
 * Credit is granted as the receiver's consumer pulls chunks, so a slow store slows the sender
 * and at most `windowChunks` chunks are in flight or queued: memory is window x chunk size,
 * whatever the artifact's size. Both sides send heartbeats; a side that hears nothing for
 * `idleTimeoutMs` gives up with TRANSFER_TIMEOUT, so a dead peer never pins a transfer.
 */

const KIND = 'Abus-Kind';
const SEQ = 'Abus-Seq';

export const EndOfStream = z.object({ sizeBytes: z.int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) });
export type EndOfStream = z.infer<typeof EndOfStream>;

export const ControlMessage = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('credit'), upTo: z.int().min(0) }),
  z.object({ kind: z.literal('done'), result: z.unknown() }),
  z.object({ kind: z.literal('error'), error: ErrorPayload }),
]);
type ControlMessage = z.infer<typeof ControlMessage>;

/** Room left in a NATS message for headers when chunks are sized from the server's max_payload. */
export const HEADER_ROOM_BYTES = 1024;

/** The chunk size that fits `max_payload` of the connected server, capped at `preferredBytes`. */
export function chunkSizeFor(nc: NatsConnection, preferredBytes: number): number {
  const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
  return Math.max(1024, Math.min(preferredBytes, maxPayload - HEADER_ROOM_BYTES));
}

function dataHeaders(kind: 'chunk' | 'end' | 'abort' | 'ping', seq?: number) {
  const h = natsHeaders();
  h.set(KIND, kind);
  if (seq !== undefined) h.set(SEQ, String(seq));
  return h;
}

async function nextWithin<T>(iterator: AsyncIterator<T>, timeoutMs: number, onTimeout: () => Error, signal?: AbortSignal): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
    onAbort = () => reject(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([iterator.next(), timeout]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/** Cuts any byte source into chunks of exactly `sizeBytes` (the last may be shorter). */
export async function* rechunk(source: AsyncIterable<Uint8Array>, sizeBytes: number): AsyncGenerator<Buffer> {
  let buffer = Buffer.allocUnsafe(sizeBytes);
  let filled = 0;
  for await (const piece of source) {
    let offset = 0;
    while (offset < piece.byteLength) {
      const take = Math.min(sizeBytes - filled, piece.byteLength - offset);
      if (filled === 0 && take === sizeBytes) {
        // A whole chunk inside the piece: pass a view, no copy.
        yield Buffer.from(piece.buffer, piece.byteOffset + offset, take);
      } else {
        buffer.set(piece.subarray(offset, offset + take), filled);
        filled += take;
        if (filled === sizeBytes) {
          yield buffer;
          buffer = Buffer.allocUnsafe(sizeBytes);
          filled = 0;
        }
      }
      offset += take;
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}

export interface SendOptions {
  dataSubject: string;
  /** Subscription on which the receiver's control messages arrive. */
  control: Subscription;
  windowChunks: number;
  chunkSizeBytes: number;
  idleTimeoutMs: number;
  /** What to declare at the end instead of what was counted (a digest the caller knows in advance). */
  declared?: { sha256?: string };
  onProgress?: (bytesSent: number) => void;
  signal?: AbortSignal;
}

/**
 * A receiver that keeps sending heartbeats but stops taking chunks (a reader that never reads)
 * would pin the sender forever: after this many idle timeouts without new credit, give up.
 */
const STALLED_IDLE_TIMEOUTS = 10;

/** Tracks what the receiver said: credit so far, and its final answer. */
class ControlState {
  upTo: number;
  done: { result: unknown } | undefined;
  error: AbusError | undefined;
  private lastHeardAt = Date.now();
  private lastCreditAt = Date.now();
  private wake: (() => void) | undefined;
  private readonly failureListeners = new Set<(error: AbusError) => void>();

  constructor(
    private readonly subscription: Subscription,
    initialCredit: number,
    private readonly idleTimeoutMs: number,
  ) {
    this.upTo = initialCredit;
    void this.read();
  }

  private async read(): Promise<void> {
    for await (const msg of this.subscription) {
      this.lastHeardAt = Date.now();
      try {
        this.apply(parseMessage(ControlMessage, msg.data));
      } catch (error) {
        this.error ??= new AbusError('PROTOCOL_ERROR', `bad control message: ${(error as Error).message}`);
      }
      if (this.error) for (const listener of this.failureListeners) listener(this.error);
      this.wake?.();
    }
  }

  private apply(message: ControlMessage): void {
    if (message.kind === 'credit') {
      if (message.upTo > this.upTo) {
        this.upTo = message.upTo;
        this.lastCreditAt = Date.now();
      }
    } else if (message.kind === 'done') this.done = { result: message.result };
    else this.error ??= AbusError.fromPayload(message.error);
  }

  /**
   * Awaits `pending`, or rejects as soon as the receiver reports an error: a sender stuck on a
   * slow source gives up at once. (A listener per wait, removed after it: a long-lived promise
   * raced again and again would keep every settled chunk reachable.)
   */
  orFailure<T>(pending: Promise<T>): Promise<T> {
    if (this.error) return Promise.reject(this.error);
    return new Promise<T>((resolve, reject) => {
      const listener = (error: AbusError) => reject(error);
      this.failureListeners.add(listener);
      pending.then(resolve, reject).finally(() => this.failureListeners.delete(listener));
    });
  }

  /** Resolves once `ready()` holds; throws the receiver's error, or TRANSFER_TIMEOUT after silence. */
  async until(ready: () => boolean, signal?: AbortSignal, waitingFor: 'credit' | 'result' = 'credit'): Promise<void> {
    for (;;) {
      if (this.error) throw this.error;
      if (signal?.aborted) throw signal.reason instanceof AbusError ? signal.reason : new AbusError('TRANSFER_ABORTED', 'the transfer was cancelled');
      if (ready()) return;
      const silentMs = Date.now() - this.lastHeardAt;
      if (silentMs >= this.idleTimeoutMs) {
        throw new AbusError('TRANSFER_TIMEOUT', `the peer sent nothing for ${this.idleTimeoutMs} ms`);
      }
      // Only while waiting for credit: committing a large object may take long, with heartbeats.
      if (waitingFor === 'credit' && Date.now() - this.lastCreditAt >= this.idleTimeoutMs * STALLED_IDLE_TIMEOUTS) {
        throw new AbusError('TRANSFER_TIMEOUT', `the peer took no data for ${this.idleTimeoutMs * STALLED_IDLE_TIMEOUTS} ms`);
      }
      const wake = await new Promise<() => void>((resolve) => {
        const timer = setTimeout(() => resolve(wake), this.idleTimeoutMs - silentMs);
        const wake = () => {
          clearTimeout(timer);
          resolve(wake);
        };
        this.wake = wake;
        signal?.addEventListener('abort', wake, { once: true });
      });
      signal?.removeEventListener('abort', wake);
      this.wake = undefined;
    }
  }
}

/**
 * Sends `source` as a chunk stream and resolves with the receiver's `done` result.
 * On any failure (source error, receiver error, timeout, abort) the receiver is told and the error thrown.
 */
export async function sendChunks(nc: NatsConnection, source: AsyncIterable<Uint8Array>, options: SendOptions): Promise<unknown> {
  const control = new ControlState(options.control, options.windowChunks, options.idleTimeoutMs);
  // A digest declared in advance is checked by the receiver: no need to compute it here too.
  const hash = options.declared?.sha256 ? undefined : createHash('sha256');
  let seq = 0;
  let sizeBytes = 0;
  let lastPublishAt = Date.now();
  const keepalive = setInterval(() => {
    if (Date.now() - lastPublishAt >= options.idleTimeoutMs / 3) {
      nc.publish(options.dataSubject, undefined, { headers: dataHeaders('ping') });
      lastPublishAt = Date.now();
    }
  }, Math.max(50, options.idleTimeoutMs / 3));
  keepalive.unref();
  const chunks = rechunk(source, options.chunkSizeBytes);
  try {
    for (;;) {
      // The receiver's error ends the wait for a slow source too.
      const next = await control.orFailure(chunks.next());
      if (next.done) break;
      const chunk = next.value;
      await control.until(() => seq < control.upTo, options.signal);
      hash?.update(chunk);
      sizeBytes += chunk.byteLength;
      nc.publish(options.dataSubject, chunk, { headers: dataHeaders('chunk', seq) });
      lastPublishAt = Date.now();
      seq++;
      options.onProgress?.(sizeBytes);
    }
    const end: EndOfStream = { sizeBytes, sha256: options.declared?.sha256 ?? hash?.digest('hex') ?? '' };
    nc.publish(options.dataSubject, encodeJson(end), { headers: dataHeaders('end') });
    lastPublishAt = Date.now();
    await control.until(() => control.done !== undefined, options.signal, 'result');
    return control.done?.result;
  } catch (error) {
    const failure = toAbusError(error);
    // The receiver told us: it already knows. Otherwise tell it, so it aborts and frees its parts.
    if (failure !== control.error) {
      nc.publish(options.dataSubject, encodeJson(failure.toPayload()), { headers: dataHeaders('abort') });
    }
    throw error instanceof AbusError ? error : failure;
  } finally {
    clearInterval(keepalive);
    options.control.unsubscribe();
    // Ends the source (a file stream is closed); not awaited, as a stalled source may never settle.
    void chunks.return(undefined).catch(() => undefined);
  }
}

export interface ReceiveOptions {
  /** Subscription on which the sender's data messages arrive. */
  data: Subscription;
  controlSubject: string;
  windowChunks: number;
  idleTimeoutMs: number;
  /** The declared size: more bytes fail at once, fewer fail at the end (SIZE_MISMATCH). */
  maxSizeBytes?: number;
  /** Aborting makes the iteration throw the signal's reason (a cancelled transfer). */
  signal?: AbortSignal;
}

/**
 * The receiving side: an async iterable of chunks that grants credit as it is consumed and
 * checks size and sha256 against the sender's declaration before it ends. A consumer that
 * sees the iteration end normally has every byte, verified; any mismatch is thrown before
 * the end, so a backend that commits only on a clean end never commits bad data.
 */
export class ChunkReceiver implements AsyncIterable<Buffer> {
  private readonly hash = createHash('sha256');
  private receivedBytes = 0;
  private granted: number;
  private consumed = 0;
  private verified: EndOfStream | undefined;
  private settled = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: ReceiveOptions,
  ) {
    this.granted = options.windowChunks;
    this.heartbeat = setInterval(() => this.sendControl({ kind: 'credit', upTo: this.granted }), Math.max(50, options.idleTimeoutMs / 3));
    this.heartbeat.unref();
  }

  /** Bytes received so far. */
  get bytesReceived(): number {
    return this.receivedBytes;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    const iterator = this.options.data[Symbol.asyncIterator]();
    let expectedSeq = 0;
    try {
      for (;;) {
        const next = await nextWithin(
          iterator,
          this.options.idleTimeoutMs,
          () => new AbusError('TRANSFER_TIMEOUT', `the sender sent nothing for ${this.options.idleTimeoutMs} ms`),
          this.options.signal,
        );
        if (next.done) throw new AbusError('TRANSFER_ABORTED', 'the data channel closed before the end of the stream');
        const msg: Msg = next.value;
        const kind = msg.headers?.get(KIND);
        if (kind === 'chunk') {
          const seq = Number(msg.headers?.get(SEQ));
          if (seq !== expectedSeq) throw new AbusError('PROTOCOL_ERROR', `chunk ${seq} arrived where chunk ${expectedSeq} was expected`);
          if (seq >= this.granted) throw new AbusError('PROTOCOL_ERROR', 'the sender exceeded its credit');
          expectedSeq++;
          const chunk = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
          this.hash.update(chunk);
          this.receivedBytes += chunk.byteLength;
          if (this.options.maxSizeBytes !== undefined && this.receivedBytes > this.options.maxSizeBytes) {
            throw new AbusError('SIZE_MISMATCH', `more than the declared ${this.options.maxSizeBytes} bytes arrived`);
          }
          yield chunk;
          this.consumed++;
          this.grantIfDue();
        } else if (kind === 'end') {
          const end = parseMessage(EndOfStream, msg.data);
          if (end.sizeBytes !== this.receivedBytes) {
            throw new AbusError('SIZE_MISMATCH', `received ${this.receivedBytes} bytes but the sender declared ${end.sizeBytes}`);
          }
          if (this.options.maxSizeBytes !== undefined && this.receivedBytes !== this.options.maxSizeBytes) {
            throw new AbusError('SIZE_MISMATCH', `received ${this.receivedBytes} bytes of the declared ${this.options.maxSizeBytes}`);
          }
          const sha256 = this.hash.digest('hex');
          if (end.sha256 !== sha256) {
            throw new AbusError('DIGEST_MISMATCH', `sha256 of the received bytes is ${sha256} but the sender declared ${end.sha256}`);
          }
          this.verified = { sizeBytes: this.receivedBytes, sha256 };
          return;
        } else if (kind === 'abort') {
          const reason = ErrorPayload.safeParse(safeJson(msg.data));
          throw new AbusError('TRANSFER_ABORTED', `the sender aborted the transfer${reason.success ? `: ${reason.data.message}` : ''}`);
        } else if (kind !== 'ping') {
          throw new AbusError('PROTOCOL_ERROR', `unknown data message kind "${String(kind).slice(0, 32)}"`);
        }
      }
    } finally {
      this.options.data.unsubscribe();
    }
  }

  /** Size and sha256 of the verified stream; only after the iteration ended normally. */
  result(): EndOfStream {
    if (!this.verified) throw new AbusError('INTERNAL', 'the stream has not been received to its end');
    return this.verified;
  }

  /** Tells the sender that everything was committed. */
  complete(result: unknown): void {
    this.settle({ kind: 'done', result });
  }

  /** Tells the sender that the transfer failed, and why. */
  fail(error: unknown): void {
    this.settle({ kind: 'error', error: toAbusError(error).toPayload() });
  }

  private settle(message: ControlMessage): void {
    if (this.settled) return;
    this.settled = true;
    clearInterval(this.heartbeat);
    this.options.data.unsubscribe();
    this.sendControl(message, true);
  }

  private grantIfDue(): void {
    const window = this.options.windowChunks;
    if (this.consumed + window - this.granted >= Math.max(1, Math.floor(window / 2))) {
      this.granted = this.consumed + window;
      this.sendControl({ kind: 'credit', upTo: this.granted });
    }
  }

  private sendControl(message: ControlMessage, final = false): void {
    if (this.settled && !final) return;
    try {
      this.nc.publish(this.options.controlSubject, encodeJson(message));
    } catch {
      // A closed connection: the peer's idle timeout ends its side.
    }
  }
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return undefined;
  }
}
