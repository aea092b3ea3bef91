import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ArtifactBusClient } from '@artifact-bus/client';
import { connectNats, encodeJson, jobSubjects } from '@artifact-bus/contracts';
import {
  AZURITE_ACCOUNT,
  azureStoreDefinition,
  collect,
  createTestBucket,
  createTestContainer,
  eventually,
  randomArtifact,
  S3RVER_CREDENTIALS,
  s3StoreDefinition,
  startTestStack,
  streamOf,
  tempDir,
  type TestStack,
} from './harness/index.ts';

const MiB = 1024 * 1024;
const flavors = ['local', 's3', 'azure'] as const;

describe('store-to-store copy', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;
  let localRoot: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    stack = await startTestStack();
    client = await stack.client();
    localRoot = await tempDir('copy-local');
    const s3Endpoint = inject('s3Endpoint');
    const accountUrl = inject('azuriteAccountUrl');
    await client.secrets.create('s3creds', S3RVER_CREDENTIALS);
    await client.secrets.create('azcreds', AZURITE_ACCOUNT);
    await client.stores.register('local', { flavor: 'local', path: localRoot.path });
    await client.stores.register('s3', s3StoreDefinition(s3Endpoint, await createTestBucket(s3Endpoint, 'copy'), 's3creds', 'root'));
    await client.stores.register('azure', azureStoreDefinition(accountUrl, await createTestContainer(accountUrl, 'copy'), 'azcreds', 'root'));
  });

  afterAll(async () => {
    await stack?.stop();
    await localRoot?.remove();
  });

  const pairs = flavors.flatMap((from) => flavors.map((to) => [from, to] as const));

  it.each(pairs)('copies %s to %s byte-exact, verified, with both ends in its events', async (from, to) => {
    const artifact = randomArtifact(11 * MiB + 7);
    await client.upload(from, `pairs/${from}-${to}.bin`, streamOf(artifact.bytes), { contentType: 'application/x-model', metadata: { run: from } });

    const state = await client.copy({ store: from, key: `pairs/${from}-${to}.bin` }, { store: to, key: `copies/from-${from}.bin` });

    expect(state).toMatchObject({ state: 'completed', objectsCopied: 1, objectsFailed: 0, bytesCopied: artifact.bytes.length });
    // Inside one S3 service or Azure account with the same credentials, the bytes never pass through the worker.
    const method = from === to && from !== 'local' ? 'server-side' : 'streamed';
    expect(state.copied).toEqual([{ key: `pairs/${from}-${to}.bin`, sizeBytes: artifact.bytes.length, sha256: artifact.sha256, method }]);
    expect((await collect(await client.download(to, `copies/from-${from}.bin`))).equals(artifact.bytes)).toBe(true);
    const { object } = await client.stat(to, `copies/from-${from}.bin`);
    expect(object).toMatchObject({ sha256: artifact.sha256, contentType: 'application/x-model', metadata: { run: from } });

    const events = await eventually(
      () => client.audit.query({ jobId: state.jobId }),
      (records) => records.some((r) => r.type === 'completed'),
    );
    expect(events.find((r) => r.type === 'completed')).toMatchObject({
      operation: 'copy',
      store: to,
      key: `copies/from-${from}.bin`,
      sourceStore: from,
      sourceKey: `pairs/${from}-${to}.bin`,
      sha256: artifact.sha256,
      sizeBytes: artifact.bytes.length,
    });
    expect(events.map((r) => r.type)).toEqual(expect.arrayContaining(['requested', 'started', 'completed']));
  });

  it('copies a prefix, keeps going past a failed object, and a re-run copies only what is missing', async () => {
    const names = ['a.bin', 'b/x.bin', 'c/d/e.bin', 'f g.bin', 'ü.bin'];
    const artifacts = new Map(names.map((name) => [name, randomArtifact(256 * 1024 + name.length)]));
    for (const [name, artifact] of artifacts) await client.upload('s3', `tree/${name}`, streamOf(artifact.bytes));
    // A file where the copy needs a folder: the local flavor cannot hold both "b" and "b/x.bin".
    await mkdir(path.join(localRoot.path, 'mirror'), { recursive: true });
    await writeFile(path.join(localRoot.path, 'mirror', 'b'), 'in the way');

    const first = await client.copy({ store: 's3', key: 'tree/' }, { store: 'local', key: 'mirror/' }, { recursive: true });
    expect(first).toMatchObject({ state: 'failed', objectsTotal: 5, objectsCopied: 4, objectsFailed: 1, objectsSkipped: 0 });
    expect(first.failed).toEqual([{ key: 'tree/b/x.bin', error: expect.objectContaining({ code: 'INVALID_KEY' }) }]);
    expect(first.copied.map((c) => c.key).sort()).toEqual(['tree/a.bin', 'tree/c/d/e.bin', 'tree/f g.bin', 'tree/ü.bin']);

    await client.delete('local', 'mirror/b');
    const rerun = await client.copy({ store: 's3', key: 'tree/' }, { store: 'local', key: 'mirror/' }, { recursive: true });
    expect(rerun).toMatchObject({ state: 'completed', objectsTotal: 5, objectsCopied: 1, objectsSkipped: 4, objectsFailed: 0 });
    expect(rerun.copied.map((c) => c.key)).toEqual(['tree/b/x.bin']);
    for (const [name, artifact] of artifacts) {
      expect((await collect(await client.download('local', `mirror/${name}`))).equals(artifact.bytes)).toBe(true);
    }

    // The same tree inside one S3 service: server-side, keys with spaces and unicode included.
    const within = await client.copy({ store: 's3', key: 'tree/' }, { store: 's3', key: 'tree-copy/' }, { recursive: true });
    expect(within).toMatchObject({ state: 'completed', objectsCopied: 5 });
    expect(new Set(within.copied.map((c) => c.method))).toEqual(new Set(['server-side']));
    for (const [name, artifact] of artifacts) {
      expect((await collect(await client.download('s3', `tree-copy/${name}`))).equals(artifact.bytes)).toBe(true);
      expect((await client.stat('s3', `tree-copy/${name}`)).object.sha256).toBe(artifact.sha256);
    }
  });

  it('reports a job that cannot start: unknown store, missing source object', async () => {
    const unknown = await client.copy({ store: 'nope', key: 'x' }, { store: 'local', key: 'y' });
    expect(unknown).toMatchObject({ state: 'failed', error: { code: 'STORE_NOT_FOUND' } });
    const missing = await client.copy({ store: 's3', key: 'not/there.bin' }, { store: 'local', key: 'y' });
    expect(missing).toMatchObject({ state: 'failed', objectsFailed: 1, failed: [{ key: 'not/there.bin', error: expect.objectContaining({ code: 'OBJECT_NOT_FOUND' }) }] });
  });

  it('refuses keys that escape the root before a job is queued', async () => {
    await expect(client.copy({ store: 's3', key: '../etc/passwd' }, { store: 'local', key: 'x' })).rejects.toMatchObject({ code: 'PATH_OUTSIDE_ROOT' });
  });

  it('drops a malformed job from the queue, records it as failed, and keeps working', async () => {
    const nc = await connectNats({ url: stack.nats.url, name: 'junk-publisher' });
    const js = jetstream(nc);
    await js.publish(jobSubjects.copy, new TextEncoder().encode('not json'));
    await js.publish(jobSubjects.copy, encodeJson({ jobId: 'junk-job-1', source: { key: '../x' }, destination: { key: 'y' } }));
    const failed = await eventually(
      () => client.audit.query({ jobId: 'junk-job-1' }),
      (records) => records.length > 0,
    );
    expect(failed[0]).toMatchObject({ type: 'failed', operation: 'copy', error: { code: 'PATH_OUTSIDE_ROOT' } });
    await nc.close();

    const artifact = randomArtifact(1000);
    await client.upload('local', 'after-junk.bin', streamOf(artifact.bytes));
    expect(await client.copy({ store: 'local', key: 'after-junk.bin' }, { store: 'azure', key: 'after-junk.bin' })).toMatchObject({ state: 'completed' });
  });
});
