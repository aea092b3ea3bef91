import { z } from 'zod';
import { NoRespondersError, RequestError, TimeoutError, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { AbusError, ErrorCode, ErrorPayload, toAbusError } from './errors.ts';
import type { Logger } from './logger.ts';

/** A request/reply endpoint: its subject and the schemas of what goes in and comes back. */
export interface Endpoint<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> {
  subject: string;
  request: Req;
  reply: Res;
}

export function endpoint<Req extends z.ZodType, Res extends z.ZodType>(subject: string, request: Req, reply: Res): Endpoint<Req, Res> {
  return { subject, request, reply };
}

/** Every reply is one of these two envelopes. */
export const ReplyEnvelope = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: ErrorPayload }),
]);

const encoder = new TextEncoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** A path segment can be a requester's record key of any length: show its start only. */
function shortSegment(segment: PropertyKey): string {
  const text = String(segment);
  return text.length > 64 ? `${text.slice(0, 64)}...` : text;
}

/** A record key that fails its own schema is reported as "Invalid key in record": its schema's message says why. */
function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_key' && issue.issues[0]) return `invalid key: ${issue.issues[0].message}`;
  return issue.message;
}

/** Describes a schema failure by field, without echoing values (they may be secrets). */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((issue) => `${issue.path.length ? issue.path.map(shortSegment).join('.') : '(message)'}: ${issueMessage(issue)}`)
    .join('; ');
}

/** The error for a schema failure: BAD_REQUEST, or the code a refinement named in `params.code`. */
export function schemaError(error: z.ZodError): AbusError {
  const named = error.issues.map((issue) => ErrorCode.safeParse((issue as { params?: { code?: unknown } }).params?.code)).find((c) => c.success);
  return new AbusError(named?.data ?? 'BAD_REQUEST', `invalid request: ${describeIssues(error)}`);
}

export function decodeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    throw new AbusError('BAD_REQUEST', 'the message is not valid JSON');
  }
}

/** Parses an incoming message body with `schema`; BAD_REQUEST (or a refinement's code) when it does not fit. */
export function parseMessage<S extends z.ZodType>(schema: S, data: Uint8Array): z.infer<S> {
  const parsed = schema.safeParse(decodeJson(data));
  if (!parsed.success) throw schemaError(parsed.error);
  return parsed.data;
}

export interface RequestContext {
  msg: Msg;
}

export interface ServeOptions {
  queue: string;
  logger: Logger;
  /** Called when a message is refused before its handler runs (not JSON, or not the schema). */
  onRefused?: (body: unknown, error: AbusError) => Promise<void>;
  /** Requests handled at once on this subscription; further ones wait in the subscription. */
  maxConcurrent?: number;
}

/**
 * Serves an endpoint: every message is parsed with the request schema, handled, and answered
 * with a reply envelope. Nothing a requester sends can throw out of this loop.
 */
export function serveEndpoint<Req extends z.ZodType, Res extends z.ZodType>(
  nc: NatsConnection,
  ep: Endpoint<Req, Res>,
  handler: (request: z.infer<Req>, context: RequestContext) => Promise<z.input<Res>>,
  options: ServeOptions,
): Subscription {
  const subscription = nc.subscribe(ep.subject, { queue: options.queue });
  const maxConcurrent = options.maxConcurrent ?? 64;
  const running = new Set<Promise<void>>();

  const handle = async (msg: Msg): Promise<void> => {
    let reply: z.infer<typeof ReplyEnvelope>;
    try {
      let request: z.infer<Req>;
      let body: unknown;
      try {
        body = decodeJson(msg.data);
        const parsed = ep.request.safeParse(body);
        if (!parsed.success) throw schemaError(parsed.error);
        request = parsed.data;
      } catch (error) {
        await options.onRefused?.(body, toAbusError(error)).catch(() => undefined);
        throw error;
      }
      reply = { ok: true, result: await handler(request, { msg }) };
    } catch (error) {
      const abusError = toAbusError(error);
      if (abusError.code === 'INTERNAL') options.logger.error({ err: error, subject: ep.subject }, 'request failed');
      else options.logger.debug({ code: abusError.code, subject: ep.subject }, 'request refused');
      reply = { ok: false, error: abusError.toPayload() };
    }
    if (msg.reply) msg.respond(encodeJson(reply));
  };

  void (async () => {
    for await (const msg of subscription) {
      const task = handle(msg).finally(() => running.delete(task));
      running.add(task);
      if (running.size >= maxConcurrent) await Promise.race(running);
    }
    await Promise.allSettled(running);
  })();
  return subscription;
}

/** Calls an endpoint and returns its typed result, or throws the AbusError the service replied with. */
export async function callEndpoint<Req extends z.ZodType, Res extends z.ZodType>(
  nc: NatsConnection,
  ep: Endpoint<Req, Res>,
  request: z.input<Req>,
  options: { timeoutMs?: number } = {},
): Promise<z.infer<Res>> {
  const checked = ep.request.safeParse(request);
  if (!checked.success) throw schemaError(checked.error);
  const body = encodeJson(checked.data);
  // A schema-valid request can still be larger than the server carries (max_payload, 1 MiB by default).
  const maxPayload = nc.info?.max_payload;
  if (maxPayload !== undefined && body.byteLength > maxPayload) {
    throw new AbusError('BAD_REQUEST', `the request is ${body.byteLength} bytes; the NATS server carries at most ${maxPayload}`);
  }
  let msg: Msg;
  try {
    msg = await nc.request(ep.subject, body, { timeout: options.timeoutMs ?? 30_000 });
  } catch (error) {
    if (error instanceof NoRespondersError || (error instanceof RequestError && error.isNoResponders())) {
      throw new AbusError('SERVICE_UNAVAILABLE', `no service is answering on ${ep.subject}; is the stack running?`);
    }
    if (error instanceof TimeoutError || (error as Error)?.cause instanceof TimeoutError) {
      throw new AbusError('SERVICE_UNAVAILABLE', `no reply on ${ep.subject} within ${options.timeoutMs ?? 30_000} ms`);
    }
    throw error;
  }
  const envelope = parseMessage(ReplyEnvelope, msg.data);
  if (!envelope.ok) throw AbusError.fromPayload(envelope.error);
  const result = ep.reply.safeParse(envelope.result);
  if (!result.success) throw new AbusError('PROTOCOL_ERROR', `unexpected reply on ${ep.subject}: ${describeIssues(result.error)}`);
  return result.data;
}
