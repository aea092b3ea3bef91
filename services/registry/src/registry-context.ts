import type { Logger, NatsConnection } from '@artifact-bus/contracts';
import type { RegistryDb } from './db.ts';
import type { RegistryEventOutbox } from './event-outbox.ts';
import type { SecretBox } from './secret-box.ts';

export interface RegistryContext {
  nc: NatsConnection;
  db: RegistryDb;
  secrets: SecretBox;
  logger: Logger;
  /** Every change goes through `events.transaction`, so that it emits its events. */
  events: RegistryEventOutbox;
}

export const ACTIVE_STACK = 'active_stack';
