import { jetstreamManager, type ConsumerInfo } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { AUDIT_CONSUMER, EVENTS_STREAM } from '@artifact-bus/contracts';
import { eventually } from './fixtures.ts';

export interface StreamMessage {
  seq: number;
  subject: string;
  /** The message body as published, parsed as JSON when it is JSON. */
  body: unknown;
  text: string;
}

/** Every message of the ABUS_EVENTS stream, read behind the services' backs. */
export async function readEventsStream(natsUrl: string): Promise<StreamMessage[]> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info(EVENTS_STREAM);
    const messages: StreamMessage[] = [];
    for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
      const msg = await jsm.streams.getMessage(EVENTS_STREAM, { seq });
      if (!msg) continue;
      const text = msg.string();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      messages.push({ seq: msg.seq, subject: msg.subject, body, text });
    }
    return messages;
  } finally {
    await nc.close();
  }
}

export async function auditConsumerInfo(natsUrl: string): Promise<ConsumerInfo> {
  const nc = await connect({ servers: natsUrl });
  try {
    return await (await jetstreamManager(nc)).consumers.info(EVENTS_STREAM, AUDIT_CONSUMER);
  } finally {
    await nc.close();
  }
}

/** Waits until the audit consumer has acknowledged every message up to `seq` (the stream's last by default). */
export async function auditCaughtUp(natsUrl: string, seq?: number, timeoutMs = 30_000): Promise<ConsumerInfo> {
  const caughtUp = (info: ConsumerInfo) => info.num_pending === 0 && info.num_ack_pending === 0 && (seq === undefined || info.ack_floor.stream_seq >= seq);
  const info = await eventually(() => auditConsumerInfo(natsUrl), caughtUp, timeoutMs);
  if (!caughtUp(info)) {
    throw new Error(`the audit consumer did not catch up: ${info.num_pending} pending, ${info.num_ack_pending} unacknowledged, acked up to ${info.ack_floor.stream_seq}`);
  }
  return info;
}
