import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ArtifactBusClient } from '@artifact-bus/client';
import { connectNats } from '@artifact-bus/contracts';
import { SecretBox, startRegistry } from '@artifact-bus/registry';
import { bucketKeys, createTestBucket, S3RVER_CREDENTIALS, s3StoreDefinition, startTestStack, streamOf, testLogger, type TestStack } from './harness/index.ts';

describe('registry', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;

  beforeAll(async () => {
    stack = await startTestStack();
    client = await stack.client();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const localStore = (folder: string) => ({ flavor: 'local' as const, path: path.join(stack.dataDir, folder) });

  describe('on first start', () => {
    it('has a default local store under the data folder', async () => {
      const store = await client.stores.describe('default');
      expect(store).toMatchObject({ name: 'default', flavor: 'local', path: path.join(stack.dataDir, 'artifacts') });
      expect((await client.stores.list()).map((s) => s.name)).toEqual(['default']);
    });

    it('has a default stack, active, that uses the default store', async () => {
      expect(await client.stacks.describe()).toMatchObject({ name: 'default', artifactStore: 'default', active: true });
      expect(await client.stacks.list()).toEqual([expect.objectContaining({ name: 'default', artifactStore: 'default', active: true })]);
    });

    it('stores an upload without a store name in the default store, on disk under the data folder', async () => {
      const result = await client.upload(undefined, 'first/start.txt', streamOf(Buffer.from('hello')));
      expect(result.store).toBe('default');
      expect(await readFile(path.join(stack.dataDir, 'artifacts', 'first', 'start.txt'), 'utf8')).toBe('hello');
    });
  });

  describe('stores', () => {
    it('registers, lists, describes and deletes a store', async () => {
      const registered = await client.stores.register('scratch', localStore('scratch'));
      expect(registered).toMatchObject({ name: 'scratch', flavor: 'local', path: path.join(stack.dataDir, 'scratch') });
      expect(Date.parse(registered.createdAt)).not.toBeNaN();

      expect((await client.stores.list()).map((s) => s.name)).toContain('scratch');
      expect(await client.stores.describe('scratch')).toEqual(registered);

      expect(await client.stores.delete('scratch')).toEqual({ name: 'scratch', deleted: true });
      await expect(client.stores.describe('scratch')).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
      expect((await client.stores.list()).map((s) => s.name)).not.toContain('scratch');
    });

    it('keeps an s3 store with its options and the name of its secret', async () => {
      await client.secrets.create('s3-keys', S3RVER_CREDENTIALS);
      const definition = {
        ...s3StoreDefinition('http://127.0.0.1:9', 'some-bucket', 's3-keys', 'team/artifacts'),
        configKwargs: { s3: { addressing_style: 'path' as const }, retries: { max_attempts: 2 } },
        s3AdditionalKwargs: { ServerSideEncryption: 'AES256' as const },
      };
      await client.stores.register('s3-options', definition);
      expect(await client.stores.describe('s3-options')).toMatchObject({ name: 's3-options', ...definition });
    });

    it('refuses a second store of the same name with STORE_EXISTS', async () => {
      await client.stores.register('twice', localStore('twice'));
      await expect(client.stores.register('twice', localStore('other'))).rejects.toMatchObject({ code: 'STORE_EXISTS' });
      expect((await client.stores.describe('twice')).path).toBe(path.join(stack.dataDir, 'twice'));
    });

    it.each([
      ['a relative local path', { flavor: 'local' as const, path: 'relative/dir' }],
      ['a local path with ".."', { flavor: 'local' as const, path: '/srv/../etc' }],
      ['an s3 path without a bucket', { flavor: 's3' as const, path: 's3://' }],
      ['an s3 bucket with capitals', { flavor: 's3' as const, path: 's3://Not_A_Bucket' }],
      ['an s3 path for a local store', { flavor: 'local' as const, path: 's3://bucket' }],
    ])('refuses %s with INVALID_STORE_PATH, and registers nothing', async (_, definition) => {
      await expect(client.stores.register('bad-path', definition)).rejects.toMatchObject({ code: 'INVALID_STORE_PATH' });
      await expect(client.stores.describe('bad-path')).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
    });

    it.each([
      ['an unknown client_kwargs option', { clientKwargs: { aws_access_key_id: 'x' } }],
      ['an unknown config_kwargs option', { configKwargs: { signature_version: 's3v4' } }],
      ['an unknown s3_additional_kwargs option', { s3AdditionalKwargs: { Tagging: 'a=b' } }],
      ['an option value of the wrong kind', { clientKwargs: { verify: 'no' } }],
    ])('refuses %s with INVALID_STORE_OPTION, and registers nothing', async (_, options) => {
      await expect(client.stores.register('bad-option', { flavor: 's3', path: 's3://some-bucket', ...options })).rejects.toMatchObject({
        code: 'INVALID_STORE_OPTION',
      });
      await expect(client.stores.describe('bad-option')).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
    });

    it('refuses s3 options on a local store with INVALID_STORE_OPTION', async () => {
      await expect(client.stores.register('local-options', { ...localStore('x'), clientKwargs: { region_name: 'x' } })).rejects.toMatchObject({
        code: 'INVALID_STORE_OPTION',
      });
    });

    it('refuses a store whose secret does not exist with SECRET_NOT_FOUND', async () => {
      await expect(client.stores.register('no-secret', s3StoreDefinition('http://127.0.0.1:9', 'some-bucket', 'never-created'))).rejects.toMatchObject({
        code: 'SECRET_NOT_FOUND',
      });
    });

    it('answers STORE_NOT_FOUND to describe or delete an unknown store', async () => {
      await expect(client.stores.describe('nowhere')).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
      await expect(client.stores.delete('nowhere')).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
    });

    it('refuses to delete a store that a stack uses with STORE_IN_USE; force deletes it with its stacks', async () => {
      await client.stores.register('in-use', localStore('in-use'));
      await client.stacks.register('uses-it', 'in-use');

      await expect(client.stores.delete('in-use')).rejects.toMatchObject({ code: 'STORE_IN_USE' });
      expect((await client.stores.describe('in-use')).name).toBe('in-use');

      expect(await client.stores.delete('in-use', { force: true })).toEqual({ name: 'in-use', deleted: true });
      await expect(client.stores.describe('in-use')).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
      await expect(client.stacks.describe('uses-it')).rejects.toMatchObject({ code: 'STACK_NOT_FOUND' });
    });

    it('leaves no active stack when the active stack’s store is force-deleted', async () => {
      await client.stores.register('active-doomed', localStore('active-doomed'));
      await client.stacks.register('active-doomed', 'active-doomed', { setActive: true });
      await client.stores.delete('active-doomed', { force: true });

      await expect(client.stacks.describe()).rejects.toMatchObject({ code: 'NO_ACTIVE_STACK' });
      await expect(client.upload(undefined, 'orphan.bin', streamOf(Buffer.from('x')))).rejects.toMatchObject({ code: 'NO_ACTIVE_STACK' });

      await client.stacks.set('default');
      expect((await client.upload(undefined, 'orphan.bin', streamOf(Buffer.from('x')))).store).toBe('default');
    });
  });

  describe('secrets', () => {
    it('creates a secret and answers with its keys, never its values', async () => {
      const created = await client.secrets.create('shown-keys', { zeta: 'value-z-1f0c', alpha: 'value-a-77e2' });
      expect(created).toMatchObject({ name: 'shown-keys', keys: ['alpha', 'zeta'] });
      expect(JSON.stringify(created)).not.toMatch(/value-[az]-/);
    });

    it('lists secrets by name and keys, never values', async () => {
      await client.secrets.create('listed', { token: 'listed-value-5d1a' });
      const listed = await client.secrets.list();
      expect(listed).toContainEqual(expect.objectContaining({ name: 'listed', keys: ['token'] }));
      expect(JSON.stringify(listed)).not.toContain('listed-value-5d1a');
    });

    it('refuses a second secret of the same name with SECRET_EXISTS', async () => {
      await client.secrets.create('once', { a: 'b' });
      await expect(client.secrets.create('once', { c: 'd' })).rejects.toMatchObject({ code: 'SECRET_EXISTS' });
      expect((await client.secrets.list()).find((s) => s.name === 'once')?.keys).toEqual(['a']);
    });

    it('refuses to delete a secret that a store uses with SECRET_IN_USE', async () => {
      await client.secrets.create('used', S3RVER_CREDENTIALS);
      await client.stores.register('uses-secret', s3StoreDefinition('http://127.0.0.1:9', 'some-bucket', 'used'));
      await expect(client.secrets.delete('used')).rejects.toMatchObject({ code: 'SECRET_IN_USE' });

      await client.stores.delete('uses-secret');
      expect(await client.secrets.delete('used')).toEqual({ name: 'used', deleted: true });
    });

    it('deletes a secret; deleting it again answers SECRET_NOT_FOUND', async () => {
      await client.secrets.create('short-lived', { a: 'b' });
      expect(await client.secrets.delete('short-lived')).toEqual({ name: 'short-lived', deleted: true });
      expect((await client.secrets.list()).map((s) => s.name)).not.toContain('short-lived');
      await expect(client.secrets.delete('short-lived')).rejects.toMatchObject({ code: 'SECRET_NOT_FOUND' });
    });
  });

  describe('stacks', () => {
    beforeAll(async () => {
      await client.stores.register('stacked', localStore('stacked'));
    });

    it('registers a stack, inactive unless asked, and lists and describes it', async () => {
      const registered = await client.stacks.register('staging', 'stacked');
      expect(registered).toMatchObject({ name: 'staging', artifactStore: 'stacked', active: false });
      expect(await client.stacks.describe('staging')).toEqual(registered);
      expect((await client.stacks.list()).map((s) => s.name)).toContain('staging');
      expect((await client.stacks.describe()).name).toBe('default');
    });

    it('sets the active stack: exactly one stack is active', async () => {
      await client.stacks.register('set-me', 'stacked');
      expect(await client.stacks.set('set-me')).toMatchObject({ name: 'set-me', active: true });
      expect((await client.stacks.describe()).name).toBe('set-me');
      expect((await client.stacks.list()).filter((s) => s.active).map((s) => s.name)).toEqual(['set-me']);

      await client.stacks.set('default');
      expect((await client.stacks.list()).filter((s) => s.active).map((s) => s.name)).toEqual(['default']);
    });

    it('registers a stack as the active one with setActive', async () => {
      expect(await client.stacks.register('born-active', 'stacked', { setActive: true })).toMatchObject({ active: true });
      expect((await client.stacks.describe()).name).toBe('born-active');
      await client.stacks.set('default');
    });

    it('refuses a stack on an unknown store with STORE_NOT_FOUND', async () => {
      await expect(client.stacks.register('no-store', 'nowhere')).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
      await expect(client.stacks.describe('no-store')).rejects.toMatchObject({ code: 'STACK_NOT_FOUND' });
    });

    it('refuses a second stack of the same name with STACK_EXISTS', async () => {
      await client.stacks.register('dup', 'stacked');
      await expect(client.stacks.register('dup', 'default')).rejects.toMatchObject({ code: 'STACK_EXISTS' });
      expect((await client.stacks.describe('dup')).artifactStore).toBe('stacked');
    });

    it('answers STACK_NOT_FOUND to describe, set or delete an unknown stack', async () => {
      await expect(client.stacks.describe('nowhere')).rejects.toMatchObject({ code: 'STACK_NOT_FOUND' });
      await expect(client.stacks.set('nowhere')).rejects.toMatchObject({ code: 'STACK_NOT_FOUND' });
      await expect(client.stacks.delete('nowhere')).rejects.toMatchObject({ code: 'STACK_NOT_FOUND' });
    });

    it('refuses to delete the active stack with STACK_IN_USE, and deletes another', async () => {
      await expect(client.stacks.delete('default')).rejects.toMatchObject({ code: 'STACK_IN_USE' });
      await client.stacks.register('deletable', 'stacked');
      expect(await client.stacks.delete('deletable')).toEqual({ name: 'deletable', deleted: true });
      await expect(client.stacks.describe('deletable')).rejects.toMatchObject({ code: 'STACK_NOT_FOUND' });
    });
  });

  describe('the active stack', () => {
    it('routes transfers without a store name to its store, from the next request on', async () => {
      await client.stores.register('elsewhere', localStore('elsewhere'));
      await client.stacks.register('elsewhere', 'elsewhere', { setActive: true });
      try {
        const result = await client.upload(undefined, 'routed/model.bin', streamOf(Buffer.from('routed')));
        expect(result.store).toBe('elsewhere');
        expect(await readFile(path.join(stack.dataDir, 'elsewhere', 'routed', 'model.bin'), 'utf8')).toBe('routed');
        expect((await client.stat(undefined, 'routed/model.bin')).store).toBe('elsewhere');
        await expect(client.stat('default', 'routed/model.bin')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
      } finally {
        await client.stacks.set('default');
      }
      await expect(client.stat(undefined, 'routed/model.bin')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    });

    it('routes transfers without a store name to an s3 store', async () => {
      const endpoint = inject('s3Endpoint');
      const bucket = await createTestBucket(endpoint, 'registry');
      await client.secrets.create('routed-s3', S3RVER_CREDENTIALS);
      await client.stores.register('routed-s3', s3StoreDefinition(endpoint, bucket, 'routed-s3', 'team'));
      await client.stacks.register('routed-s3', 'routed-s3', { setActive: true });
      try {
        const result = await client.upload(undefined, 'routed/model.bin', streamOf(Buffer.from('to s3')));
        expect(result).toMatchObject({ store: 'routed-s3', uri: `s3://${bucket}/team/routed/model.bin` });
        expect(await bucketKeys(endpoint, bucket)).toContain('team/routed/model.bin');
      } finally {
        await client.stacks.set('default');
      }
    });
  });
});

describe('registry started again on the same database', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;

  beforeAll(async () => {
    stack = await startTestStack();
    client = await stack.client();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** A second registry instance on the stack's database, as after a restart; it joins the same queue group. */
  async function startAnotherRegistry() {
    const nc = await connectNats({ url: stack.nats.url, name: 'registry-again' });
    const registry = await startRegistry({ nc, db: stack.registryDb, secrets: new SecretBox([randomBytes(32)]), logger: testLogger('registry-again') }, { dataDir: stack.dataDir });
    return {
      async stop() {
        await registry.stop();
        await nc.close();
      },
    };
  }

  it('keeps what was registered, and creates the defaults only once, even after they were deleted', async () => {
    await client.stores.register('kept', { flavor: 'local', path: path.join(stack.dataDir, 'kept') });
    await client.stores.delete('default', { force: true });

    const again = await startAnotherRegistry();
    try {
      expect((await client.stores.list()).map((s) => s.name)).toEqual(['kept']);
      expect(await client.stacks.list()).toEqual([]);
      await expect(client.stacks.describe()).rejects.toMatchObject({ code: 'NO_ACTIVE_STACK' });
    } finally {
      await again.stop();
    }
  });
});
