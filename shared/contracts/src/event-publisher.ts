import { randomUUID } from 'node:crypto';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ArtifactEvent, type ArtifactEventType, type TransferOperation } from './events.ts';
import type { ErrorPayload } from './errors.ts';
import { RegistryEvent } from './registry-events.ts';
import type { Logger } from './logger.ts';
import { withRetry } from './retry.ts';
import { encodeJson } from './rpc.ts';
import { subjects } from './subjects.ts';

export type ArtifactEventFields = Partial<Omit<ArtifactEvent, 'id' | 'time' | 'type' | 'operation' | 'error'>> & {
  error?: ErrorPayload | null;
};

/** The one way to publish an event: validated, with its id as the JetStream message id (de-duplicated). */
export class EventPublisher {
  private readonly js: JetStreamClient;

  constructor(
    nc: NatsConnection,
    private readonly logger: Logger,
  ) {
    this.js = jetstream(nc);
  }

  async artifact(type: ArtifactEventType, operation: TransferOperation, fields: ArtifactEventFields): Promise<ArtifactEvent> {
    const event = ArtifactEvent.parse({
      id: randomUUID(),
      time: new Date().toISOString(),
      type,
      operation,
      requestId: fields.requestId ?? null,
      store: fields.store ?? null,
      key: fields.key ?? null,
      uri: fields.uri ?? null,
      sizeBytes: fields.sizeBytes ?? null,
      sha256: fields.sha256 ?? null,
      requester: fields.requester ?? null,
      workerId: fields.workerId ?? null,
      error: fields.error ?? null,
      sourceStore: fields.sourceStore ?? null,
      sourceKey: fields.sourceKey ?? null,
      sourceUri: fields.sourceUri ?? null,
      jobId: fields.jobId ?? null,
    });
    await this.publish(subjects.events.artifact(type, event.store), event.id, event);
    return event;
  }

  /**
   * Publishes a registry event built beforehand (the registry keeps it in an outbox until then).
   * `attempts: 1` for a caller that retries on its own.
   */
  async registry(event: RegistryEvent, options: { attempts?: number } = {}): Promise<void> {
    const parsed = RegistryEvent.parse(event);
    await this.publish(subjects.events.registry(parsed.type), parsed.id, parsed, options.attempts);
  }

  private async publish(subject: string, id: string, payload: unknown, attempts = 6): Promise<void> {
    try {
      await withRetry(() => this.js.publish(subject, encodeJson(payload), { msgID: id, timeout: 5_000 }), {
        attempts,
        baseDelayMs: 200,
        retryable: () => true,
      });
    } catch (error) {
      this.logger.error({ err: error, subject, eventId: id }, 'event could not be published');
      throw error;
    }
  }
}
