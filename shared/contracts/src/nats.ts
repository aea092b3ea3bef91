import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { AbusError } from './errors.ts';
import { EVENTS_STREAM, subjects } from './subjects.ts';

export type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
export { createInbox } from '@nats-io/transport-node';

export interface NatsOptions {
  url: string;
  /** Shown in the server's connection list (`nats server report connections`). */
  name: string;
  credsFile?: string;
  user?: string;
  password?: string;
  /** Services wait for a NATS server that is not up yet; clients fail fast. */
  waitForServer?: boolean;
}

/** Connects with endless reconnects: a service outlives a NATS restart without operator action. */
export async function connectNats(options: NatsOptions): Promise<NatsConnection> {
  try {
    return await connect({
      servers: options.url.split(','),
      name: options.name,
      user: options.user,
      pass: options.password,
      authenticator: options.credsFile ? credsAuthenticator(await readFile(options.credsFile)) : undefined,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      waitOnFirstConnect: options.waitForServer ?? false,
      timeout: 5_000,
    });
  } catch (error) {
    throw new AbusError(
      'SERVICE_UNAVAILABLE',
      `cannot connect to NATS at ${options.url} (${(error as Error).message}); is the stack running? (npm start)`,
      { cause: error },
    );
  }
}

export interface EventsStreamOptions {
  /** How long events stay in the stream; the audit service keeps them for good. */
  maxAgeMs?: number;
}

/** Creates the events stream if missing. File storage: events published while a consumer is down are kept. */
export async function ensureEventsStream(nc: NatsConnection, options: EventsStreamOptions = {}): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  const config = {
    name: EVENTS_STREAM,
    subjects: [subjects.events.all],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_age: nanos(options.maxAgeMs ?? 30 * 24 * 3600_000),
    // Window in which a re-published event id is dropped by the server.
    duplicate_window: nanos(2 * 60_000),
  };
  try {
    await jsm.streams.info(EVENTS_STREAM);
  } catch {
    try {
      await jsm.streams.add(config);
    } catch (error) {
      // Another service created it at the same moment.
      await jsm.streams.info(EVENTS_STREAM).catch(() => {
        throw error;
      });
    }
  }
  return jsm;
}
