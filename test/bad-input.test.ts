import { connect, createInbox, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ArtifactBusClient } from '@artifact-bus/client';
import { ControlMessage, ReplyEnvelope, subjects, UploadAccepted, type ErrorCode } from '@artifact-bus/contracts';
import {
  auditRecordOf,
  collect,
  createTestBucket,
  eventually,
  freePort,
  randomArtifact,
  S3RVER_CREDENTIALS,
  s3StoreDefinition,
  startTestStack,
  streamOf,
  type TestStack,
} from './harness/index.ts';

/**
 * Whatever arrives on a subject, the service answers with an error envelope carrying a stable
 * code, records a failed event when a transfer was asked for, and keeps serving.
 */
type Reply = ReturnType<typeof ReplyEnvelope.parse>;

describe('bad input', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;
  let nc: NatsConnection;

  beforeAll(async () => {
    stack = await startTestStack();
    client = await stack.client();
    nc = await connect({ servers: stack.nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await stack?.stop();
  });

  /** Sends raw bytes (or the JSON of a value) and parses whatever comes back as a reply envelope. */
  async function rawRequest(subject: string, body: string | object): Promise<Reply> {
    const data = typeof body === 'string' ? new TextEncoder().encode(body) : new TextEncoder().encode(JSON.stringify(body));
    const reply = await nc.request(subject, data, { timeout: 15_000 });
    return ReplyEnvelope.parse(JSON.parse(new TextDecoder().decode(reply.data)));
  }

  function errorOf(envelope: Reply): { code: ErrorCode; message: string } {
    expect(envelope.ok).toBe(false);
    if (envelope.ok) throw new Error('expected an error reply');
    return envelope.error;
  }

  const upload = (requestId: string, fields: object) => ({ requestId, key: 'models/ok.bin', creditSubject: createInbox(), ...fields });

  describe('on the upload subject', () => {
    it.each([
      { why: 'has fields of the wrong type', body: { requestId: 'wrong-types', key: 42, creditSubject: true, sizeBytes: 'big' }, code: 'BAD_REQUEST' },
      { why: 'misses required fields', body: { requestId: 'missing-fields' }, code: 'BAD_REQUEST' },
      { why: 'declares a negative size', body: upload('negative-size', { sizeBytes: -1 }), code: 'BAD_REQUEST' },
      { why: 'has a huge key', body: upload('huge-key', { key: 'k'.repeat(200_000) }), code: 'INVALID_KEY' },
      { why: 'has a huge requester', body: upload('huge-requester', { requester: 'r'.repeat(200_000) }), code: 'BAD_REQUEST' },
      { why: 'has a metadata entry with a huge name', body: upload('huge-metadata-name', { metadata: { ['m'.repeat(100_000)]: 'v' } }), code: 'BAD_REQUEST' },
      { why: 'has a metadata entry with a huge value', body: upload('huge-metadata-value', { metadata: { note: 'v'.repeat(100_000) } }), code: 'BAD_REQUEST' },
      { why: 'names a key with ../', body: upload('dot-dot', { key: 'models/../../../etc/passwd' }), code: 'PATH_OUTSIDE_ROOT' },
      { why: 'names an absolute key', body: upload('absolute', { key: '/etc/passwd' }), code: 'PATH_OUTSIDE_ROOT' },
      { why: 'names a key with a backslash', body: upload('backslash', { key: 'models\\..\\x' }), code: 'PATH_OUTSIDE_ROOT' },
      { why: 'names a key with a NUL byte', body: upload('nul-byte', { key: 'models/a\u0000b.bin' }), code: 'INVALID_KEY' },
      { why: 'names a key in the reserved .abus/ folder', body: upload('reserved', { key: '.abus/meta/x.json' }), code: 'INVALID_KEY' },
      { why: 'names an invalid store', body: upload('bad-store-name', { store: '../default' }), code: 'BAD_REQUEST' },
    ] as const)('refuses a request that $why with $code, and records a failed event', async ({ body, code }) => {
      const error = errorOf(await rawRequest(subjects.transfer.upload, body));
      expect(error.code).toBe(code);

      const failed = await auditRecordOf(client, body.requestId, 'failed');
      expect(failed).toMatchObject({ operation: 'upload', requestId: body.requestId, error: { code } });
    });

    it.each([
      { why: 'is not JSON', body: 'this is not json {' },
      { why: 'is empty', body: '' },
      { why: 'is JSON but not an object', body: '[1, 2, 3]' },
      { why: 'is JSON null', body: 'null' },
    ])('refuses a message that $why with BAD_REQUEST, and records a failed event', async ({ body }) => {
      const before = await failedUploadsWithoutRequest();
      const error = errorOf(await rawRequest(subjects.transfer.upload, body));
      expect(error.code).toBe('BAD_REQUEST');

      const after = await eventually(failedUploadsWithoutRequest, (records) => records.length > before.length);
      expect(after.length).toBe(before.length + 1);
      expect(after.at(-1)?.error?.code).toBe('BAD_REQUEST');
    });

    async function failedUploadsWithoutRequest() {
      const records = await client.audit.query({ type: 'failed' });
      return records.filter((r) => r.operation === 'upload' && r.requestId === null);
    }

    it('records the failed event of a key with a NUL byte, U+FFFD standing in for the NUL PostgreSQL cannot hold', async () => {
      const failed = await auditRecordOf(client, 'nul-byte', 'failed');
      expect(failed?.key).toBe('models/a\uFFFDb.bin');
    });

    it('keeps the echo of a refused request bounded in its failed event', async () => {
      const failed = await auditRecordOf(client, 'huge-key', 'failed');
      expect(failed?.key?.length).toBeLessThanOrEqual(1024);
    });
  });

  describe('on the download and delete subjects', () => {
    it.each([
      { subject: subjects.transfer.download, operation: 'download', extra: { dataSubject: createInbox() } },
      { subject: subjects.transfer.delete, operation: 'delete', extra: {} },
    ])('refuses a key with ../ on $operation with PATH_OUTSIDE_ROOT, and records a failed event', async ({ subject, operation, extra }) => {
      const requestId = `dot-dot-${operation}`;
      const error = errorOf(await rawRequest(subject, { requestId, key: '../outside.bin', ...extra }));
      expect(error.code).toBe('PATH_OUTSIDE_ROOT');
      expect(await auditRecordOf(client, requestId, 'failed')).toMatchObject({ operation, error: { code: 'PATH_OUTSIDE_ROOT' } });
    });

    it('refuses a download of a negative range with BAD_REQUEST', async () => {
      const error = errorOf(await rawRequest(subjects.transfer.download, { requestId: 'negative-offset', key: 'a.bin', offset: -5, dataSubject: createInbox() }));
      expect(error.code).toBe('BAD_REQUEST');
    });
  });

  describe('on the stat and list subjects', () => {
    it.each([
      { subject: subjects.transfer.stat, body: 'not json', code: 'BAD_REQUEST' },
      { subject: subjects.transfer.stat, body: { key: 'a\u0000b' }, code: 'INVALID_KEY' },
      { subject: subjects.transfer.stat, body: { key: '../../etc/passwd' }, code: 'PATH_OUTSIDE_ROOT' },
      { subject: subjects.transfer.list, body: { prefix: '../' }, code: 'PATH_OUTSIDE_ROOT' },
      { subject: subjects.transfer.list, body: { pageSize: 0 }, code: 'BAD_REQUEST' },
      { subject: subjects.transfer.list, body: { pageSize: 'ten' }, code: 'BAD_REQUEST' },
      { subject: subjects.transfer.list, body: { pageToken: 't'.repeat(100_000) }, code: 'BAD_REQUEST' },
    ] as const)('answers $body on $subject with $code', async ({ subject, body, code }) => {
      expect(errorOf(await rawRequest(subject, body)).code).toBe(code);
    });
  });

  describe('on the registry and audit subjects', () => {
    it.each([
      { subject: subjects.registry.storeRegister, body: 'not json', code: 'BAD_REQUEST' },
      { subject: subjects.registry.storeRegister, body: { name: 'x', flavor: 'ftp', path: '/tmp' }, code: 'BAD_REQUEST' },
      { subject: subjects.registry.storeRegister, body: { name: 'x', flavor: 'local', path: 42 }, code: 'BAD_REQUEST' },
      { subject: subjects.registry.storeRegister, body: { name: 'x'.repeat(100_000), flavor: 'local', path: '/tmp/x' }, code: 'BAD_REQUEST' },
      { subject: subjects.registry.storeDescribe, body: {}, code: 'BAD_REQUEST' },
      { subject: subjects.registry.storeDelete, body: { name: 'default', force: 'yes' }, code: 'BAD_REQUEST' },
      { subject: subjects.registry.secretCreate, body: { name: 'big', values: { key: 'v'.repeat(20_000) } }, code: 'BAD_REQUEST' },
      { subject: subjects.registry.secretCreate, body: { name: 'empty', values: {} }, code: 'BAD_REQUEST' },
      { subject: subjects.registry.secretCreate, body: { name: 'bad-key', values: { 'not a key!': 'v' } }, code: 'BAD_REQUEST' },
      { subject: subjects.registry.stackRegister, body: { name: 'x' }, code: 'BAD_REQUEST' },
      { subject: subjects.registry.stackSet, body: { name: 'no-such-stack' }, code: 'STACK_NOT_FOUND' },
      { subject: subjects.registry.storeResolve, body: { name: 'no-such-store' }, code: 'STORE_NOT_FOUND' },
      { subject: subjects.audit.query, body: 'not json', code: 'BAD_REQUEST' },
      { subject: subjects.audit.query, body: { limit: 0 }, code: 'BAD_REQUEST' },
      { subject: subjects.audit.query, body: { type: 'exploded' }, code: 'BAD_REQUEST' },
      { subject: subjects.audit.query, body: { since: 'yesterday' }, code: 'BAD_REQUEST' },
    ] as const)('answers $body on $subject with $code', async ({ subject, body, code }) => {
      expect(errorOf(await rawRequest(subject, body)).code).toBe(code);
    });
  });

  describe('on the data channel of an upload', () => {
    /** Opens an upload by hand: the accepted reply, and the control messages the worker sends back. */
    async function openRawUpload(requestId: string) {
      const creditSubject = createInbox();
      const control = nc.subscribe(creditSubject);
      const envelope = await rawRequest(subjects.transfer.upload, { requestId, key: `raw/${requestId}.bin`, creditSubject });
      if (!envelope.ok) throw new Error(`upload refused: ${envelope.error.code}`);
      const accepted = UploadAccepted.parse(envelope.result);
      const finalControl = (async () => {
        for await (const msg of control) {
          const message = ControlMessage.parse(JSON.parse(new TextDecoder().decode(msg.data)));
          if (message.kind !== 'credit') {
            control.unsubscribe();
            return message;
          }
        }
        return undefined;
      })();
      return { accepted, finalControl };
    }

    function dataHeaders(kind: string, seq?: number) {
      const h = headers();
      h.set('Abus-Kind', kind);
      if (seq !== undefined) h.set('Abus-Seq', String(seq));
      return h;
    }

    it.each([
      { why: 'a chunk out of order', send: [{ kind: 'chunk', seq: 1, body: 'x' }] },
      { why: 'a chunk sent twice', send: [{ kind: 'chunk', seq: 0, body: 'x' }, { kind: 'chunk', seq: 0, body: 'x' }] },
      { why: 'an unknown message kind', send: [{ kind: 'explode', body: '' }] },
      { why: 'an end that is not JSON', send: [{ kind: 'end', body: 'not json' }] },
    ])('fails the upload with an error to the sender and a failed event on $why', async ({ why, send }) => {
      const requestId = `data-${why.replaceAll(' ', '-')}`;
      const { accepted, finalControl } = await openRawUpload(requestId);
      for (const message of send) {
        nc.publish(accepted.dataSubject, new TextEncoder().encode(message.body), { headers: dataHeaders(message.kind, 'seq' in message ? message.seq : undefined) });
      }

      const final = await finalControl;
      expect(final).toMatchObject({ kind: 'error', error: { code: expect.stringMatching(/^(PROTOCOL_ERROR|BAD_REQUEST)$/) } });
      const failed = await auditRecordOf(client, requestId, 'failed');
      expect(failed?.error?.code).toBe(final?.kind === 'error' ? final.error.code : undefined);
      await expect(client.stat(undefined, `raw/${requestId}.bin`)).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    });

    it('fails the upload when the sender declares a size other than what it sent', async () => {
      const { accepted, finalControl } = await openRawUpload('data-size-lie');
      nc.publish(accepted.dataSubject, new TextEncoder().encode('abc'), { headers: dataHeaders('chunk', 0) });
      nc.publish(accepted.dataSubject, new TextEncoder().encode(JSON.stringify({ sizeBytes: 4, sha256: 'a'.repeat(64) })), { headers: dataHeaders('end') });

      expect(await finalControl).toMatchObject({ kind: 'error', error: { code: 'SIZE_MISMATCH' } });
      expect(await auditRecordOf(client, 'data-size-lie', 'failed')).toMatchObject({ error: { code: 'SIZE_MISMATCH' } });
    });

    it('fails the upload when the sender aborts it', async () => {
      const { accepted, finalControl } = await openRawUpload('data-abort');
      nc.publish(accepted.dataSubject, new TextEncoder().encode(JSON.stringify({ code: 'TRANSFER_ABORTED', message: 'changed my mind' })), { headers: dataHeaders('abort') });

      expect(await finalControl).toMatchObject({ kind: 'error', error: { code: 'TRANSFER_ABORTED' } });
      expect(await auditRecordOf(client, 'data-abort', 'failed')).toMatchObject({ error: { code: 'TRANSFER_ABORTED' } });
    });
  });

  describe('through the client', () => {
    it('refuses an unknown store with STORE_NOT_FOUND on every operation, with a failed event for transfers', async () => {
      await expect(client.upload('no-such-store', 'a.bin', streamOf(Buffer.from('a')), { requestId: 'unknown-store-upload' })).rejects.toMatchObject({
        code: 'STORE_NOT_FOUND',
      });
      await expect(client.download('no-such-store', 'a.bin', { requestId: 'unknown-store-download' })).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
      await expect(client.stat('no-such-store', 'a.bin')).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
      await expect(client.list('no-such-store')).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
      await expect(client.delete('no-such-store', 'a.bin', { requestId: 'unknown-store-delete' })).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });

      for (const [requestId, operation] of [
        ['unknown-store-upload', 'upload'],
        ['unknown-store-download', 'download'],
        ['unknown-store-delete', 'delete'],
      ] as const) {
        expect(await auditRecordOf(client, requestId, 'failed')).toMatchObject({ operation, store: 'no-such-store', error: { code: 'STORE_NOT_FOUND' } });
      }
    });

    it('answers OBJECT_NOT_FOUND for a missing object, with a failed event for the download', async () => {
      await expect(client.download(undefined, 'missing/model.bin', { requestId: 'missing-download' })).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
      await expect(client.stat(undefined, 'missing/model.bin')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
      expect(await auditRecordOf(client, 'missing-download', 'failed')).toMatchObject({
        operation: 'download',
        store: 'default',
        key: 'missing/model.bin',
        error: { code: 'OBJECT_NOT_FOUND' },
      });
    });

    it('refuses a request larger than the NATS server carries with BAD_REQUEST', async () => {
      const values = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`key_${i}`, 'v'.repeat(16_384)]));
      await expect(client.secrets.create('too-big', values)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      expect((await client.secrets.list()).map((s) => s.name)).not.toContain('too-big');
    });

    it('refuses keys that the client validates before sending, with the same codes', async () => {
      await expect(client.stat(undefined, '../x')).rejects.toMatchObject({ code: 'PATH_OUTSIDE_ROOT' });
      await expect(client.stat(undefined, 'a\u0000b')).rejects.toMatchObject({ code: 'INVALID_KEY' });
    });

    describe('with wrong s3 credentials', () => {
      beforeAll(async () => {
        const endpoint = inject('s3Endpoint');
        const bucket = await createTestBucket(endpoint, 'badcreds');
        await client.secrets.create('wrong-s3', { aws_access_key_id: 'NOT-S3RVER', aws_secret_access_key: 'not-the-secret' });
        await client.stores.register('wrong-creds', s3StoreDefinition(endpoint, bucket, 'wrong-s3'));
        await client.secrets.create('incomplete-s3', { aws_access_key_id: 'S3RVER' });
        await client.stores.register('incomplete-creds', s3StoreDefinition(endpoint, bucket, 'incomplete-s3'));
      });

      it.each([
        ['single-part', 1024],
        ['multi-part', 6 * 1024 * 1024],
      ])('refuses a %s upload with ACCESS_DENIED, and records a failed event', async (kind, sizeBytes) => {
        const requestId = `wrong-creds-upload-${kind}`;
        await expect(client.upload('wrong-creds', 'a.bin', streamOf(randomArtifact(sizeBytes).bytes), { requestId })).rejects.toMatchObject({
          code: 'ACCESS_DENIED',
        });
        expect(await auditRecordOf(client, requestId, 'failed')).toMatchObject({ operation: 'upload', store: 'wrong-creds', error: { code: 'ACCESS_DENIED' } });
      });

      it('refuses a download with ACCESS_DENIED, and records a failed event', async () => {
        await expect(client.download('wrong-creds', 'a.bin', { requestId: 'wrong-creds-download' })).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
        expect(await auditRecordOf(client, 'wrong-creds-download', 'failed')).toMatchObject({ operation: 'download', error: { code: 'ACCESS_DENIED' } });
      });

      it('refuses stat, list and delete with ACCESS_DENIED', async () => {
        await expect(client.stat('wrong-creds', 'a.bin')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
        await expect(client.list('wrong-creds')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
        await expect(client.delete('wrong-creds', 'a.bin')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
      });

      it('refuses a secret without aws_secret_access_key with ACCESS_DENIED', async () => {
        await expect(client.upload('incomplete-creds', 'a.bin', streamOf(Buffer.from('a')), { requestId: 'incomplete-creds' })).rejects.toMatchObject({
          code: 'ACCESS_DENIED',
        });
        expect(await auditRecordOf(client, 'incomplete-creds', 'failed')).toMatchObject({ error: { code: 'ACCESS_DENIED' } });
      });
    });
  });

  describe('with an s3 store that cannot serve', () => {
    beforeAll(async () => {
      const endpoint = inject('s3Endpoint');
      await client.secrets.create('s3-for-broken', S3RVER_CREDENTIALS);
      await client.stores.register('no-bucket', s3StoreDefinition(endpoint, 'abus-never-created', 's3-for-broken'));
      const closedPort = await freePort();
      await client.stores.register('unreachable', {
        ...s3StoreDefinition(`http://127.0.0.1:${closedPort}`, 'abus-unreachable', 's3-for-broken'),
        configKwargs: { retries: { max_attempts: 1 }, connect_timeout: 2 },
      });
    });

    it('answers BACKEND_ERROR when its bucket does not exist, with a failed event for the upload', async () => {
      await expect(client.upload('no-bucket', 'a.bin', streamOf(Buffer.from('a')), { requestId: 'no-bucket-upload' })).rejects.toMatchObject({
        code: 'BACKEND_ERROR',
      });
      await expect(client.list('no-bucket')).rejects.toMatchObject({ code: 'BACKEND_ERROR' });
      expect(await auditRecordOf(client, 'no-bucket-upload', 'failed')).toMatchObject({ error: { code: 'BACKEND_ERROR' } });
    });

    it('answers BACKEND_UNAVAILABLE when its endpoint does not answer, with a failed event for the upload', async () => {
      await expect(client.upload('unreachable', 'a.bin', streamOf(Buffer.from('a')), { requestId: 'unreachable-upload' })).rejects.toMatchObject({
        code: 'BACKEND_UNAVAILABLE',
      });
      await expect(client.stat('unreachable', 'a.bin')).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
      expect(await auditRecordOf(client, 'unreachable-upload', 'failed')).toMatchObject({ error: { code: 'BACKEND_UNAVAILABLE' } });
    });
  });

  describe('afterwards', () => {
    it('ignores requests that expect no reply', async () => {
      nc.publish(subjects.transfer.upload, new TextEncoder().encode('no reply wanted'));
      nc.publish(subjects.registry.storeRegister, new TextEncoder().encode('{"name": 1}'));
      nc.publish(subjects.audit.query, new TextEncoder().encode('['));
      await nc.flush();
      expect((await client.stores.list()).map((s) => s.name)).toContain('default');
    });

    it('every service still answers: a round trip, the registry and the audit', async () => {
      const artifact = randomArtifact(300_000);
      const result = await client.upload(undefined, 'after/bad-input.bin', streamOf(artifact.bytes), { requestId: 'after-bad-input' });
      expect(result.sha256).toBe(artifact.sha256);
      expect((await collect(await client.download(undefined, 'after/bad-input.bin'))).equals(artifact.bytes)).toBe(true);
      expect((await client.stacks.describe()).artifactStore).toBe('default');
      expect(await auditRecordOf(client, 'after-bad-input', 'completed')).toMatchObject({ sha256: artifact.sha256 });
    });
  });
});
