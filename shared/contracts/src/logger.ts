import { destination, pino, stdTimeFunctions, type Logger } from 'pino';

export type { Logger };

/**
 * Keys whose values are secrets, wherever they appear in a log record (two levels deep).
 * The logger censors them by key so that a stray object cannot leak a credential.
 */
const SECRET_KEYS = [
  'credentials',
  'values',
  'password',
  'secret',
  'token',
  'aws_secret_access_key',
  'aws_session_token',
  'account_key',
  'sas_token',
  'connection_string',
  'client_secret',
  'secretAccessKey',
  'sessionToken',
  'NATS_PASSWORD',
  'ABUS_SECRET_KEY',
];

/** The one logger: structured JSON on stderr, secrets redacted by key. */
export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      name: service,
      level,
      base: { service, pid: process.pid },
      redact: { paths: SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]), censor: '[redacted]' },
      timestamp: stdTimeFunctions.isoTime,
    },
    destination(2),
  );
}
