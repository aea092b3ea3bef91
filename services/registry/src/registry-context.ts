import type { Logger, NatsConnection } from '@artifact-bus/contracts';
import type { RegistryDb } from './db.ts';
import type { SecretBox } from './secret-box.ts';

export interface RegistryContext {
  nc: NatsConnection;
  db: RegistryDb;
  secrets: SecretBox;
  logger: Logger;
}

export const ACTIVE_STACK = 'active_stack';
