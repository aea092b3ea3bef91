import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ArtifactBusClient } from '@artifact-bus/client';
import type { AuditRecord } from '@artifact-bus/contracts';

/** Random bytes of a given size, made by the test; with their sha256. */
export function randomArtifact(sizeBytes: number): { bytes: Buffer; sha256: string } {
  const bytes = randomBytes(sizeBytes);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A stream of `bytes` in pieces of `pieceBytes`, as a file or socket would deliver them. */
export function streamOf(bytes: Buffer, pieceBytes = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < bytes.length; offset += pieceBytes) yield bytes.subarray(offset, offset + pieceBytes);
    })(),
  );
}

export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

/** Polls `check` until it returns a value that `done` accepts (events and audit rows arrive asynchronously). */
export async function eventually<T>(check: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The audit records of one request, polled until `done` accepts them (the audit service records asynchronously). */
export async function auditRecordsOf(
  client: ArtifactBusClient,
  requestId: string,
  done: (records: AuditRecord[]) => boolean,
): Promise<AuditRecord[]> {
  return eventually(() => client.audit.query({ requestId }), done);
}

/** Waits until the audit records of `requestId` include one of `type`, and returns it. */
export async function auditRecordOf(client: ArtifactBusClient, requestId: string, type: AuditRecord['type']): Promise<AuditRecord | undefined> {
  const records = await auditRecordsOf(client, requestId, (found) => found.some((r) => r.type === type));
  return records.find((r) => r.type === type);
}
