import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ListMultipartUploadsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ArtifactBusClient } from '@artifact-bus/client';
import {
  AZURITE_ACCOUNT,
  azureStoreDefinition,
  azuriteAdminClient,
  blobsWithUncommittedBlocks,
  containerBlobs,
  createTestContainer,
  auditRecordOf,
  bucketKeys,
  collect,
  createTestBucket,
  eventually,
  randomArtifact,
  s3AdminClient,
  S3RVER_CREDENTIALS,
  s3StoreDefinition,
  startTestStack,
  streamOf,
  type TestStack,
} from './harness/index.ts';

const MiB = 1024 * 1024;

/** A store of one flavor in a running stack, with a view of what it holds behind the stack's back. */
interface StoreUnderTest {
  name: string;
  /** Every key the backend holds, Artifact Bus's own `.abus/` files included. */
  storedKeys(): Promise<string[]>;
  /** Uploads begun and neither committed nor cleaned up; undefined where the server cannot tell. */
  unfinishedUploads(): Promise<string[] | undefined>;
  /** Replaces an object's bytes without Artifact Bus, as another program would. */
  replaceBehindTheBack(key: string, bytes: Buffer): Promise<void>;
}

interface BackendCase {
  /** The flavor, and how its store is set up when a flavor runs more than once. */
  name: string;
  flavor: 'local' | 's3' | 'azure';
  /** A folder on disk cannot also be a file: the local flavor refuses a key that is another key's folder. */
  keyUnderAnotherKey: 'refused' | 'allowed';
  /**
   * What an aborted multi-part overwrite of an existing object leaves behind. Azure cannot drop
   * staged blocks without rewriting the committed blob, so they stay, invisible, until the
   * next commit of that blob discards them.
   */
  afterAbortedOverwrite: 'nothing' | 'staged blocks until the next commit';
  open(stack: TestStack, client: ArtifactBusClient): Promise<StoreUnderTest>;
}

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
}

function s3Case(name: string, prefix: string): BackendCase {
  const root = prefix ? `${prefix}/` : '';
  return {
    name,
    flavor: 's3',
    keyUnderAnotherKey: 'allowed',
    afterAbortedOverwrite: 'nothing',
    async open(_stack, client) {
      const endpoint = inject('s3Endpoint');
      const bucket = await createTestBucket(endpoint, 'plane');
      await client.secrets.create('s3rver', S3RVER_CREDENTIALS);
      await client.stores.register('plane-s3', s3StoreDefinition(endpoint, bucket, 's3rver', prefix));
      return {
        name: 'plane-s3',
        async storedKeys() {
          const keys = await bucketKeys(endpoint, bucket);
          expect(keys.filter((k) => !k.startsWith(root))).toEqual([]);
          return keys.map((k) => k.slice(root.length));
        },
        async replaceBehindTheBack(key, bytes) {
          const s3 = s3AdminClient(endpoint);
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: root + key, Body: bytes })).finally(() => s3.destroy());
        },
        // s3rver implements neither ListMultipartUploads nor AbortMultipartUpload: against it the
        // suite can only check that nothing became visible. A real S3 answers and is checked.
        async unfinishedUploads() {
          const s3 = s3AdminClient(endpoint);
          try {
            const listing = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: root }));
            return (listing.Uploads ?? []).map((u) => u.Key ?? '');
          } catch (error) {
            if ((error as { name?: string }).name === 'NotImplemented') return undefined;
            throw error;
          } finally {
            s3.destroy();
          }
        },
      };
    },
  };
}

const backends: BackendCase[] = [
  {
    name: 'local',
    flavor: 'local',
    keyUnderAnotherKey: 'refused',
    afterAbortedOverwrite: 'nothing',
    // The default store that the registry creates on first start, under the data folder.
    async open(stack) {
      const root = path.join(stack.dataDir, 'artifacts');
      return {
        name: 'default',
        storedKeys: () => filesUnder(root),
        unfinishedUploads: () => filesUnder(path.join(root, '.abus', 'tmp')),
        replaceBehindTheBack: (key, bytes) => writeFile(path.join(root, ...key.split('/')), bytes),
      };
    },
  },
  s3Case('s3', ''),
  // A store rooted below a prefix of its bucket: objects, digest records and listings all stay under it.
  s3Case('s3 under a prefix', 'team/artifacts'),
  {
    name: 'azure',
    flavor: 'azure',
    keyUnderAnotherKey: 'allowed',
    afterAbortedOverwrite: 'staged blocks until the next commit',
    async open(_stack, client) {
      const accountUrl = inject('azuriteAccountUrl');
      const container = await createTestContainer(accountUrl, 'plane');
      await client.secrets.create('azurite', AZURITE_ACCOUNT);
      await client.stores.register('plane-azure', azureStoreDefinition(accountUrl, container, 'azurite'));
      return {
        name: 'plane-azure',
        storedKeys: async () => (await containerBlobs(accountUrl, container)).committed,
        async replaceBehindTheBack(key, bytes) {
          await azuriteAdminClient(accountUrl).getContainerClient(container).getBlockBlobClient(key).upload(bytes, bytes.length);
        },
        unfinishedUploads: () => blobsWithUncommittedBlocks(accountUrl, container),
      };
    },
  },
];

describe.each(backends)('$name backend', (backend) => {
  let stack: TestStack;
  let client: ArtifactBusClient;
  let store: StoreUnderTest;

  beforeAll(async () => {
    stack = await startTestStack();
    client = await stack.client();
    store = await backend.open(stack, client);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  describe('upload and download', () => {
    it('round-trips an artifact of more than three parts byte for byte', async () => {
      const artifact = randomArtifact(17 * MiB + 12_345);
      const requestId = `big-${backend.flavor}`;
      const result = await client.upload(store.name, 'models/big.bin', streamOf(artifact.bytes), { requestId });
      expect(result).toMatchObject({ store: store.name, key: 'models/big.bin', sizeBytes: artifact.bytes.length, sha256: artifact.sha256 });

      const back = await collect(await client.download(store.name, 'models/big.bin'));
      expect(back.length).toBe(artifact.bytes.length);
      expect(back.equals(artifact.bytes)).toBe(true);
    });

    it('records a completed event with the sha256 and size of what was stored', async () => {
      const artifact = randomArtifact(11 * MiB + 1);
      const requestId = `completed-${backend.flavor}`;
      await client.upload(store.name, 'models/event.bin', streamOf(artifact.bytes), { requestId });

      const completed = await auditRecordOf(client, requestId, 'completed');
      expect(completed).toMatchObject({
        operation: 'upload',
        store: store.name,
        key: 'models/event.bin',
        sizeBytes: artifact.bytes.length,
        sha256: artifact.sha256,
        workerId: 'worker-1',
        requester: 'test-suite',
        error: null,
      });
      expect(completed?.uri).toMatch(/models\/event\.bin$/);
    });

    it.each([
      ['an empty', 0],
      ['a one-byte', 1],
      // The harness's workers use 5 MiB parts.
      ['an exactly-one-part', 5 * MiB],
      ['a one-part-and-one-byte', 5 * MiB + 1],
    ])('round-trips %s artifact', async (_, sizeBytes) => {
      const artifact = randomArtifact(sizeBytes);
      const key = `tiny/${sizeBytes}.bin`;
      const result = await client.upload(store.name, key, streamOf(artifact.bytes));
      expect(result).toMatchObject({ sizeBytes, sha256: artifact.sha256 });

      const back = await collect(await client.download(store.name, key));
      expect(back.equals(artifact.bytes)).toBe(true);
      expect((await client.stat(store.name, key)).object).toMatchObject({ sizeBytes, sha256: artifact.sha256 });
    });

    it('keeps keys with URL-special characters intact', async () => {
      for (const key of ['special/100%25 done.bin', 'special/a+b=c&d.bin', 'special/what?#hash.bin', "special/quote'\"s.bin"]) {
        await client.upload(store.name, key, streamOf(Buffer.from(key)));
        expect((await client.stat(store.name, key)).object.key).toBe(key);
        expect((await collect(await client.download(store.name, key))).toString()).toBe(key);
      }
      expect((await client.list(store.name, 'special/')).objects.length).toBe(4);
    });

    it('replaces an object uploaded again under the same key', async () => {
      const first = randomArtifact(1000);
      const second = randomArtifact(2000);
      await client.upload(store.name, 'replaced.bin', streamOf(first.bytes));
      await client.upload(store.name, 'replaced.bin', streamOf(second.bytes));

      expect((await client.stat(store.name, 'replaced.bin')).object).toMatchObject({ sizeBytes: 2000, sha256: second.sha256 });
      expect((await collect(await client.download(store.name, 'replaced.bin'))).equals(second.bytes)).toBe(true);
    });
  });

  describe('keys that leave the store root', () => {
    it.each([['../outside.bin'], ['a/../../outside.bin'], ['/etc/passwd'], ['a\\..\\b.bin']])('refuses %s before any store is touched', async (key) => {
      const before = await store.storedKeys();
      await expect(client.upload(store.name, key, streamOf(Buffer.from('x')))).rejects.toMatchObject({ code: 'PATH_OUTSIDE_ROOT' });
      await expect(client.download(store.name, key)).rejects.toMatchObject({ code: 'PATH_OUTSIDE_ROOT' });
      await expect(client.stat(store.name, key)).rejects.toMatchObject({ code: 'PATH_OUTSIDE_ROOT' });
      await expect(client.delete(store.name, key)).rejects.toMatchObject({ code: 'PATH_OUTSIDE_ROOT' });
      expect(await store.storedKeys()).toEqual(before);
    });
  });

  describe('ranged download', () => {
    // Two s3 parts, so that a range can straddle the boundary between them.
    const artifact = randomArtifact(6 * MiB + 3);
    const key = 'ranged/artifact.bin';
    beforeAll(async () => {
      await client.upload(store.name, key, streamOf(artifact.bytes));
    });

    it('reads `length` bytes from `offset`', async () => {
      const offset = 5 * MiB - 100;
      const stream = await client.download(store.name, key, { offset, length: 300 });
      expect(stream.info).toMatchObject({ offset, sizeBytes: 300 });
      expect((await collect(stream)).equals(artifact.bytes.subarray(offset, offset + 300))).toBe(true);
    });

    it('reads to the end when no length is given', async () => {
      const offset = 6 * MiB - 10;
      expect((await collect(await client.download(store.name, key, { offset }))).equals(artifact.bytes.subarray(offset))).toBe(true);
    });

    it('reads the last byte', async () => {
      const back = await collect(await client.download(store.name, key, { offset: artifact.bytes.length - 1, length: 1 }));
      expect(back.equals(artifact.bytes.subarray(-1))).toBe(true);
    });

    it('clips a length that runs past the end', async () => {
      const offset = artifact.bytes.length - 5;
      const stream = await client.download(store.name, key, { offset, length: 1000 });
      expect(stream.info.sizeBytes).toBe(5);
      expect((await collect(stream)).equals(artifact.bytes.subarray(offset))).toBe(true);
    });

    it('gives an empty body at offset == size', async () => {
      const stream = await client.download(store.name, key, { offset: artifact.bytes.length });
      expect(stream.info.sizeBytes).toBe(0);
      expect((await collect(stream)).length).toBe(0);
    });

    it('reads nothing for a length of 0', async () => {
      const stream = await client.download(store.name, key, { offset: 10, length: 0 });
      expect(stream.info.sizeBytes).toBe(0);
      expect((await collect(stream)).length).toBe(0);
    });

    it('refuses an offset past the end with RANGE_NOT_SATISFIABLE', async () => {
      await expect(client.download(store.name, key, { offset: artifact.bytes.length + 1 })).rejects.toMatchObject({ code: 'RANGE_NOT_SATISFIABLE' });
    });
  });

  describe('list', () => {
    const keys = ['listing/a.bin', 'listing/b/c.bin', 'listing/b/d.bin', 'listing/e f.bin', 'listing/ünïcødé ✓.bin', 'listing/日本語/x.bin', 'listing-not/z.bin'];
    beforeAll(async () => {
      for (const key of keys) await client.upload(store.name, key, streamOf(Buffer.from(key)));
    });

    it('lists the objects under a prefix in key order, with their sizes', async () => {
      const listing = await client.list(store.name, 'listing/');
      const expected = keys.filter((k) => k.startsWith('listing/')).sort();
      expect(listing.objects.map((o) => o.key)).toEqual(expected);
      for (const object of listing.objects) expect(object.sizeBytes).toBe(Buffer.byteLength(object.key));
      expect(listing.nextPageToken).toBeUndefined();
    });

    it('lists a prefix that ends inside a key segment', async () => {
      const listing = await client.list(store.name, 'listing/b/');
      expect(listing.objects.map((o) => o.key)).toEqual(['listing/b/c.bin', 'listing/b/d.bin']);
      const partial = await client.list(store.name, 'listing-');
      expect(partial.objects.map((o) => o.key)).toEqual(['listing-not/z.bin']);
    });

    it('pages through a listing with pageSize', async () => {
      const expected = keys.filter((k) => k.startsWith('listing/')).sort();
      const seen: string[] = [];
      let pageToken: string | undefined;
      let pages = 0;
      do {
        const page = await client.list(store.name, 'listing/', { pageSize: 2, pageToken });
        expect(page.objects.length).toBeLessThanOrEqual(2);
        seen.push(...page.objects.map((o) => o.key));
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken && pages < 10);
      expect(seen).toEqual(expected);
      expect(pages).toBe(Math.ceil(expected.length / 2));
    });

    it('keeps keys with spaces and unicode intact from upload to listing to download', async () => {
      for (const key of ['listing/e f.bin', 'listing/ünïcødé ✓.bin', 'listing/日本語/x.bin']) {
        expect((await client.stat(store.name, key)).object.key).toBe(key);
        expect((await collect(await client.download(store.name, key))).toString()).toBe(key);
      }
    });

    it('lists nothing under a prefix without objects', async () => {
      expect((await client.list(store.name, 'nothing-here/')).objects).toEqual([]);
    });

    it('never lists its own .abus/ files', async () => {
      const all: string[] = [];
      for await (const object of client.listAll(store.name)) all.push(object.key);
      expect(all.length).toBeGreaterThan(0);
      expect(all.filter((k) => k.startsWith('.abus'))).toEqual([]);
    });
  });

  describe('stat', () => {
    it('describes an object: size, sha256, content type and metadata', async () => {
      const artifact = randomArtifact(4096);
      await client.upload(store.name, 'described/model.onnx', streamOf(artifact.bytes), {
        contentType: 'application/onnx',
        metadata: { framework: 'pytorch', run_id: 'r-42' },
      });

      const reply = await client.stat(store.name, 'described/model.onnx');
      expect(reply.store).toBe(store.name);
      expect(reply.uri).toMatch(/described\/model\.onnx$/);
      expect(reply.object).toMatchObject({
        key: 'described/model.onnx',
        sizeBytes: 4096,
        sha256: artifact.sha256,
        contentType: 'application/onnx',
        metadata: { framework: 'pytorch', run_id: 'r-42' },
      });
    });

    it('describes a multi-part object with its sha256 and metadata', async () => {
      const artifact = randomArtifact(10 * MiB + 7);
      await client.upload(store.name, 'described/multi.bin', streamOf(artifact.bytes), { contentType: 'application/x-bin', metadata: { parts: 'three' } });
      expect((await client.stat(store.name, 'described/multi.bin')).object).toMatchObject({
        sizeBytes: artifact.bytes.length,
        sha256: artifact.sha256,
        contentType: 'application/x-bin',
        metadata: { parts: 'three' },
      });
    });

    it('answers OBJECT_NOT_FOUND for a missing key', async () => {
      await expect(client.stat(store.name, 'described/missing.bin')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    });
  });

  describe('delete', () => {
    it('deletes an object, records a deleted event, and the object is gone', async () => {
      const artifact = randomArtifact(10 * MiB);
      await client.upload(store.name, 'doomed/model.bin', streamOf(artifact.bytes));
      const reply = await client.delete(store.name, 'doomed/model.bin', { requestId: `delete-${backend.flavor}` });
      expect(reply).toMatchObject({ store: store.name, key: 'doomed/model.bin', deleted: true });

      await expect(client.stat(store.name, 'doomed/model.bin')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
      await expect(client.download(store.name, 'doomed/model.bin')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
      expect((await client.list(store.name, 'doomed/')).objects).toEqual([]);
      // Its digest record goes with it.
      expect((await store.storedKeys()).filter((k) => k.includes('doomed'))).toEqual([]);

      const deleted = await auditRecordOf(client, `delete-${backend.flavor}`, 'deleted');
      expect(deleted).toMatchObject({ operation: 'delete', store: store.name, key: 'doomed/model.bin' });
    });

    it('answers deleted: false for a key that does not exist', async () => {
      const reply = await client.delete(store.name, 'doomed/never-was.bin');
      expect(reply).toMatchObject({ key: 'doomed/never-was.bin', deleted: false });
    });
  });

  describe('an upload that does not finish', () => {
    async function expectNothingCommitted(key: string) {
      await expect(client.stat(store.name, key)).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
      expect((await store.storedKeys()).filter((k) => k.includes(key))).toEqual([]);
      const unfinished = await store.unfinishedUploads();
      if (unfinished !== undefined) expect(unfinished).toEqual([]);
    }

    it('commits nothing when the source of the sender fails midway', async () => {
      const key = 'unfinished/source-failed.bin';
      const requestId = `source-failed-${backend.flavor}`;
      async function* failingSource() {
        yield randomArtifact(6 * MiB).bytes;
        throw new Error('disk read error');
      }
      await expect(client.upload(store.name, key, failingSource(), { requestId })).rejects.toThrow();

      expect(await auditRecordOf(client, requestId, 'failed')).toMatchObject({ operation: 'upload', error: { code: 'TRANSFER_ABORTED' } });
      await expectNothingCommitted(key);
    });

    it('commits nothing when the upload is cancelled', async () => {
      const key = 'unfinished/cancelled.bin';
      const requestId = `cancelled-${backend.flavor}`;
      const controller = new AbortController();
      const artifact = randomArtifact(12 * MiB);
      const upload = client.upload(store.name, key, streamOf(artifact.bytes), {
        requestId,
        signal: controller.signal,
        onProgress: (sent) => sent > 6 * MiB && controller.abort(),
      });
      await expect(upload).rejects.toMatchObject({ code: 'TRANSFER_ABORTED' });

      expect(await auditRecordOf(client, requestId, 'failed')).toMatchObject({ error: { code: 'TRANSFER_ABORTED' } });
      await expectNothingCommitted(key);
    });

    it('refuses a body that runs over its declared size with SIZE_MISMATCH, and commits nothing', async () => {
      const key = 'unfinished/over.bin';
      const requestId = `over-${backend.flavor}`;
      await expect(client.upload(store.name, key, streamOf(randomArtifact(2 * MiB).bytes), { requestId, sizeBytes: MiB })).rejects.toMatchObject({
        code: 'SIZE_MISMATCH',
      });
      expect(await auditRecordOf(client, requestId, 'failed')).toMatchObject({ error: { code: 'SIZE_MISMATCH' } });
      await expectNothingCommitted(key);
    });
  });

  describe('a download that the reader abandons', () => {
    it('stops the worker, which records a failed download', async () => {
      const artifact = randomArtifact(8 * MiB);
      await client.upload(store.name, 'abandoned/model.bin', streamOf(artifact.bytes));
      const stream = await client.download(store.name, 'abandoned/model.bin', { requestId: `abandoned-${backend.flavor}` });
      for await (const chunk of stream) {
        expect(chunk.length).toBeGreaterThan(0);
        break; // leaving the loop destroys the stream
      }
      expect(await auditRecordOf(client, `abandoned-${backend.flavor}`, 'failed')).toMatchObject({
        operation: 'download',
        error: { code: 'TRANSFER_ABORTED' },
      });
      expect(await eventually(async () => stack.workers[0]?.activeTransfers, (active) => active === 0)).toBe(0);
    });
  });

  describe('an object changed behind the stack’s back', () => {
    it.each([
      ['a single-part', 3000],
      ['a multi-part', 11 * MiB],
    ])('is read as it now is, without the digest recorded for %s original', async (_, sizeBytes) => {
      const key = `behind/${sizeBytes}.bin`;
      await client.upload(store.name, key, streamOf(randomArtifact(sizeBytes).bytes));
      const replacement = randomArtifact(sizeBytes + 10);
      await store.replaceBehindTheBack(key, replacement.bytes);

      expect((await client.stat(store.name, key)).object).toMatchObject({ sizeBytes: sizeBytes + 10, sha256: null });
      expect((await collect(await client.download(store.name, key))).equals(replacement.bytes)).toBe(true);
    });
  });

  describe('a key under another key', () => {
    it(`is ${backend.keyUnderAnotherKey} (${backend.flavor})`, async () => {
      await client.upload(store.name, 'nested/file', streamOf(Buffer.from('file')));
      const [child] = await Promise.allSettled([client.upload(store.name, 'nested/file/child', streamOf(Buffer.from('child')))]);
      await client.upload(store.name, 'nested/dir/child', streamOf(Buffer.from('child')));
      const [parent] = await Promise.allSettled([client.upload(store.name, 'nested/dir', streamOf(Buffer.from('dir')))]);
      if (backend.keyUnderAnotherKey === 'refused') {
        expect(child).toMatchObject({ status: 'rejected', reason: { code: 'INVALID_KEY' } });
        expect(parent).toMatchObject({ status: 'rejected', reason: { code: 'INVALID_KEY' } });
      } else {
        expect(child).toMatchObject({ status: 'fulfilled', value: { sizeBytes: 5 } });
        expect(parent).toMatchObject({ status: 'fulfilled', value: { sizeBytes: 3 } });
      }
      expect((await collect(await client.download(store.name, 'nested/file'))).toString()).toBe('file');
      expect((await collect(await client.download(store.name, 'nested/dir/child'))).toString()).toBe('child');
    });

    it('is not found under an object that is not a folder', async () => {
      await client.upload(store.name, 'leaf.bin', streamOf(Buffer.from('leaf')));
      await expect(client.stat(store.name, 'leaf.bin/below')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
      await expect(client.download(store.name, 'leaf.bin/below')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
      expect(await client.delete(store.name, 'leaf.bin/below')).toMatchObject({ deleted: false });
    });
  });

  describe('a digest mismatch', () => {
    it.each([
      ['a single-part', 64 * 1024],
      ['a multi-part', 12 * MiB + 5],
    ])('commits nothing of %s upload', async (_, sizeBytes) => {
      const artifact = randomArtifact(sizeBytes);
      const key = `mismatch/${sizeBytes}.bin`;
      const requestId = `mismatch-${backend.flavor}-${sizeBytes}`;
      const wrong = randomArtifact(16).sha256;

      await expect(client.upload(store.name, key, streamOf(artifact.bytes), { sha256: wrong, requestId })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });

      await expect(client.stat(store.name, key)).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
      expect((await store.storedKeys()).filter((k) => k.includes('mismatch'))).toEqual([]);
      const unfinished = await store.unfinishedUploads();
      if (unfinished !== undefined) expect(unfinished).toEqual([]);

      const failed = await auditRecordOf(client, requestId, 'failed');
      expect(failed).toMatchObject({ operation: 'upload', store: store.name, key, error: { code: 'DIGEST_MISMATCH' } });
    });

    it(`leaves ${backend.afterAbortedOverwrite} after an aborted multi-part overwrite`, async () => {
      const key = 'mismatch-overwrite/model.bin';
      const original = randomArtifact(1000);
      await client.upload(store.name, key, streamOf(original.bytes));
      const replacement = randomArtifact(11 * MiB);
      await expect(client.upload(store.name, key, streamOf(replacement.bytes), { sha256: original.sha256 })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
      expect((await collect(await client.download(store.name, key))).equals(original.bytes)).toBe(true);

      const unfinished = await store.unfinishedUploads();
      if (unfinished === undefined) return; // s3rver cannot tell; a real S3 can
      if (backend.afterAbortedOverwrite === 'nothing') {
        expect(unfinished).toEqual([]);
        return;
      }
      expect(unfinished).toEqual([key]);
      await client.upload(store.name, key, streamOf(replacement.bytes));
      expect(await store.unfinishedUploads()).toEqual([]);
    });

    it('leaves the previous version of the object in place', async () => {
      const original = randomArtifact(2048);
      await client.upload(store.name, 'mismatch-kept/model.bin', streamOf(original.bytes));
      const replacement = randomArtifact(4096);
      await expect(
        client.upload(store.name, 'mismatch-kept/model.bin', streamOf(replacement.bytes), { sha256: original.sha256 }),
      ).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });

      expect((await client.stat(store.name, 'mismatch-kept/model.bin')).object).toMatchObject({ sizeBytes: 2048, sha256: original.sha256 });
      expect((await collect(await client.download(store.name, 'mismatch-kept/model.bin'))).equals(original.bytes)).toBe(true);
    });
  });
});
