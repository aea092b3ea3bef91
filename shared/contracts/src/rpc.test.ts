import { describe, expect, it } from 'vitest';
import { AbusError, ErrorPayload } from './errors.ts';
import { schemaError } from './rpc.ts';
import { UploadRequest } from './transfer-messages.ts';

describe('error payloads', () => {
  it('describe a schema failure by field, showing only the start of a huge field name', () => {
    const parsed = UploadRequest.safeParse({ key: 'a', creditSubject: 'inbox', metadata: { ['m'.repeat(100_000)]: 'v' } });
    expect(parsed.success).toBe(false);
    const payload = schemaError(parsed.error!).toPayload();
    expect(ErrorPayload.safeParse(payload).success).toBe(true);
    expect(payload.code).toBe('BAD_REQUEST');
    expect(payload.message).toContain(`metadata.${'m'.repeat(64)}...`);
  });

  it('cut any message to what a reply and a failed event can carry', () => {
    const payload = new AbusError('BACKEND_ERROR', 'x'.repeat(10_000)).toPayload();
    expect(ErrorPayload.safeParse(payload).success).toBe(true);
    expect(payload.message.startsWith('xxx')).toBe(true);
  });

  it('keep a message that fits as it is', () => {
    expect(new AbusError('OBJECT_NOT_FOUND', 'no object "a"').toPayload()).toEqual({ code: 'OBJECT_NOT_FOUND', message: 'no object "a"' });
  });
});
