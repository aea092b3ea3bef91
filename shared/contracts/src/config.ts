import { z } from 'zod';
import { AbusError } from './errors.ts';

/**
 * The one configuration loader: each service declares its environment variables as a zod
 * object keyed by variable name, and gets them parsed or a CONFIG_INVALID error that names
 * every bad variable (never its value: some are secrets).
 */
export function loadConfig<T extends z.ZodObject>(schema: T, env: NodeJS.ProcessEnv = process.env): z.infer<T> {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = schema.safeParse(present);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`);
  throw new AbusError('CONFIG_INVALID', `invalid configuration: ${problems.join('; ')}`);
}

/** An integer environment variable within bounds, e.g. `intVar(1, 1024, 8)`. */
export function intVar(min: number, max: number, fallback: number) {
  return z.coerce
    .number({ error: 'expected a whole number' })
    .int({ error: 'expected a whole number' })
    .min(min, { error: `expected at least ${min}` })
    .max(max, { error: `expected at most ${max}` })
    .default(fallback);
}

export const LogLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info');

/** Variables every service reads. */
export const CommonEnv = z.object({
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  /** Path of a NATS credentials file (.creds), when the server requires one. */
  NATS_CREDS: z.string().optional(),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  LOG_LEVEL: LogLevel,
  /** Where embedded state lives: the embedded database, the default local store, the NATS data. */
  ABUS_DATA_DIR: z.string().default('.abus-data'),
});
export type CommonEnv = z.infer<typeof CommonEnv>;
