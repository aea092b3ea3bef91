import { z } from 'zod';

/**
 * Stable error codes. They reach the requester in error replies, the `error` field of failed
 * events, audit rows and the CLI's exit status; renaming one is a breaking change.
 */
export const ErrorCode = z.enum([
  'BAD_REQUEST',
  'INVALID_KEY',
  'PATH_OUTSIDE_ROOT',
  'INVALID_STORE_PATH',
  'INVALID_STORE_OPTION',
  'STORE_NOT_FOUND',
  'STORE_EXISTS',
  'STORE_IN_USE',
  'SECRET_IN_USE',
  'STACK_IN_USE',
  'SECRET_NOT_FOUND',
  'SECRET_EXISTS',
  'STACK_NOT_FOUND',
  'STACK_EXISTS',
  'NO_ACTIVE_STACK',
  'OBJECT_NOT_FOUND',
  'RANGE_NOT_SATISFIABLE',
  'DIGEST_MISMATCH',
  'SIZE_MISMATCH',
  'ACCESS_DENIED',
  'BACKEND_UNAVAILABLE',
  'BACKEND_ERROR',
  'TRANSFER_TIMEOUT',
  'TRANSFER_ABORTED',
  'TRANSFER_NOT_FOUND',
  'PROTOCOL_ERROR',
  'WORKER_BUSY',
  'SERVICE_UNAVAILABLE',
  'CONFIG_INVALID',
  'INTERNAL',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

const MAX_MESSAGE_CHARS = 4096;

export const ErrorPayload = z.object({
  code: ErrorCode,
  message: z.string().max(MAX_MESSAGE_CHARS),
});
export type ErrorPayload = z.infer<typeof ErrorPayload>;

/** The one error type of Artifact Bus: a stable code and a message that never holds a secret. */
export class AbusError extends Error {
  override readonly name = 'AbusError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** A message longer than the payload allows is cut, so that every reply and failed event stays valid. */
  toPayload(): ErrorPayload {
    return { code: this.code, message: this.message.length > MAX_MESSAGE_CHARS ? `${this.message.slice(0, MAX_MESSAGE_CHARS - 3)}...` : this.message };
  }

  static fromPayload(payload: ErrorPayload): AbusError {
    return new AbusError(payload.code, payload.message);
  }
}

/** Turns anything thrown into an AbusError; unknown errors become INTERNAL without leaking their text. */
export function toAbusError(error: unknown): AbusError {
  if (error instanceof AbusError) return error;
  return new AbusError('INTERNAL', 'internal error', { cause: error });
}

/** CLI exit status per code: 1 for generic failures, distinct values for the ones scripts branch on. */
export const exitCodeFor: Record<ErrorCode, number> = {
  BAD_REQUEST: 2,
  INVALID_KEY: 2,
  PATH_OUTSIDE_ROOT: 2,
  INVALID_STORE_PATH: 2,
  INVALID_STORE_OPTION: 2,
  CONFIG_INVALID: 2,
  STORE_NOT_FOUND: 3,
  SECRET_NOT_FOUND: 3,
  STACK_NOT_FOUND: 3,
  NO_ACTIVE_STACK: 3,
  OBJECT_NOT_FOUND: 4,
  RANGE_NOT_SATISFIABLE: 4,
  STORE_EXISTS: 5,
  SECRET_EXISTS: 5,
  STACK_EXISTS: 5,
  STORE_IN_USE: 5,
  SECRET_IN_USE: 5,
  STACK_IN_USE: 5,
  DIGEST_MISMATCH: 6,
  SIZE_MISMATCH: 6,
  ACCESS_DENIED: 7,
  BACKEND_UNAVAILABLE: 8,
  BACKEND_ERROR: 8,
  SERVICE_UNAVAILABLE: 8,
  WORKER_BUSY: 8,
  TRANSFER_TIMEOUT: 9,
  TRANSFER_ABORTED: 9,
  TRANSFER_NOT_FOUND: 4,
  PROTOCOL_ERROR: 10,
  INTERNAL: 1,
};
