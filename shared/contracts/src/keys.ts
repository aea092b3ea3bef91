import { z } from 'zod';
import { AbusError } from './errors.ts';

/** S3 allows keys up to 1024 bytes of UTF-8; the other backends follow the same limit. */
export const MAX_KEY_BYTES = 1024;

/** Folder under every store root that Artifact Bus keeps for itself (digests, temp files). */
export const RESERVED_PREFIX = '.abus/';

// Control characters (NUL included) have no safe meaning in any backend's key space.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Why `value` is not a valid key or prefix; problems that would leave the store's root get their own code. */
interface KeyProblem {
  code: 'PATH_OUTSIDE_ROOT' | 'INVALID_KEY';
  reason: string;
}

const invalid = (reason: string): KeyProblem => ({ code: 'INVALID_KEY', reason });
const outside = (reason: string): KeyProblem => ({ code: 'PATH_OUTSIDE_ROOT', reason });

/** Returns the problem with `value` as an artifact key or prefix, or null when it is valid. */
function keyProblem(value: string, kind: 'key' | 'prefix'): KeyProblem | null {
  if (kind === 'key' && value.length === 0) return invalid('must not be empty');
  if (Buffer.byteLength(value, 'utf8') > MAX_KEY_BYTES) return invalid(`must be at most ${MAX_KEY_BYTES} bytes`);
  if (CONTROL_CHARS.test(value)) return invalid('must not contain control characters (NUL, newline, ...)');
  if (value.includes('\\')) return outside('must not contain backslashes');
  if (value.startsWith('/')) return outside('must be relative to the store root (no leading "/")');
  if (kind === 'key' && value.endsWith('/')) return invalid('must not end with "/"');
  const segments = value.split('/');
  if (kind === 'prefix' && segments.at(-1) === '') segments.pop();
  for (const segment of segments) {
    if (segment === '..') return outside('must not contain ".." segments');
    if (segment === '.') return invalid('must not contain "." segments');
    if (segment === '') return invalid('must not contain empty segments ("//")');
  }
  if (value === '.abus' || value.startsWith(RESERVED_PREFIX)) return invalid(`must not start with the reserved "${RESERVED_PREFIX}"`);
  return null;
}

function keySchema(kind: 'key' | 'prefix') {
  return z.string().superRefine((value, ctx) => {
    const problem = keyProblem(value, kind);
    // `params.code` makes parseMessage answer with this code instead of BAD_REQUEST.
    if (problem) ctx.addIssue({ code: 'custom', message: `${kind} ${problem.reason}`, params: { code: problem.code } });
  });
}

/** A key inside a store, relative to the store's root path. */
export const ArtifactKey = keySchema('key');
/** A listing prefix: like a key, but may be empty and may end with "/". */
export const ArtifactPrefix = keySchema('prefix');

/** Throws INVALID_KEY (or PATH_OUTSIDE_ROOT for escapes) unless `value` is a safe key. */
export function assertValidKey(value: string, kind: 'key' | 'prefix' = 'key'): void {
  const problem = keyProblem(value, kind);
  if (!problem) return;
  throw new AbusError(problem.code, `${kind} "${printable(value)}" ${problem.reason}`);
}

/** Names of stores, secrets and stacks: safe as a NATS subject token and a path segment. */
export const ResourceName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'must be 1-63 letters, digits, "_" or "-", starting with a letter or digit');

/** Splits `STORE:KEY`; a string without a store part uses the active stack's store. */
export function parseStoreKey(value: string): { store?: string; key: string } {
  const match = /^([A-Za-z0-9][A-Za-z0-9_-]{0,62}):(.*)$/s.exec(value);
  if (!match) return { key: value };
  return { store: match[1], key: match[2] ?? '' };
}

function printable(value: string): string {
  // eslint-disable-next-line no-control-regex
  const shown = value.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return shown.length > 200 ? `${shown.slice(0, 200)}...` : shown;
}
