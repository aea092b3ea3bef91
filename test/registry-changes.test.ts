import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ArtifactBusClient } from '@artifact-bus/client';
import { ensureEventsStream, EVENTS_STREAM, RegistryEvent } from '@artifact-bus/contracts';
import {
  auditCaughtUp,
  createTestBucket,
  eventually,
  readEventsStream,
  S3RVER_CREDENTIALS,
  s3StoreDefinition,
  startTestStack,
  streamOf,
  type TestStack,
} from './harness/index.ts';

/** The registry events of the stream, in stream order, with their subjects. */
async function registryEvents(stack: TestStack): Promise<(RegistryEvent & { subject: string })[]> {
  return (await readEventsStream(stack.nats.url))
    .filter((m) => m.subject.startsWith('abus.events.registry.'))
    .map((m) => ({ ...RegistryEvent.parse(m.body), subject: m.subject }));
}

/** Runs `change` and returns the registry events it published (they are published before its reply). */
async function eventsOf(stack: TestStack, change: () => Promise<unknown>): Promise<(RegistryEvent & { subject: string })[]> {
  const before = new Set((await registryEvents(stack)).map((e) => e.id));
  await change();
  return (await registryEvents(stack)).filter((e) => !before.has(e.id));
}

describe('registry changes', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;
  let endpoint: string;

  beforeAll(async () => {
    stack = await startTestStack();
    client = await stack.client();
    endpoint = inject('s3Endpoint');
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const localStore = (folder: string) => ({ flavor: 'local' as const, path: path.join(stack.dataDir, folder) });

  describe('artifact store update', () => {
    it('replaces the path, keeps the rest, and routes the next upload to the new path', async () => {
      const registered = await client.stores.register('moving', localStore('moving-before'));
      const events = await eventsOf(stack, async () => {
        const updated = await client.stores.update('moving', { path: path.join(stack.dataDir, 'moving-after') });
        expect(updated).toMatchObject({ name: 'moving', flavor: 'local', path: path.join(stack.dataDir, 'moving-after'), createdAt: registered.createdAt });
        expect(Date.parse(updated.updatedAt)).toBeGreaterThanOrEqual(Date.parse(registered.updatedAt));
      });
      expect(events).toEqual([
        expect.objectContaining({
          subject: 'abus.events.registry.store.updated',
          type: 'store.updated',
          kind: 'store',
          name: 'moving',
          changes: ['path'],
          flavor: 'local',
          path: path.join(stack.dataDir, 'moving-after'),
          requester: 'test-suite',
        }),
      ]);

      await client.upload('moving', 'a.txt', streamOf(Buffer.from('after the move')));
      expect(await readFile(path.join(stack.dataDir, 'moving-after', 'a.txt'), 'utf8')).toBe('after the move');
    });

    it('replaces the options given, removes one given as {}, and names exactly the fields that changed', async () => {
      await client.stores.register('tuned', {
        flavor: 's3',
        path: 's3://tuned-bucket',
        clientKwargs: { endpoint_url: 'http://127.0.0.1:9', region_name: 'us-east-1' },
        configKwargs: { retries: { max_attempts: 2 } },
        s3AdditionalKwargs: { ServerSideEncryption: 'AES256' },
      });
      const events = await eventsOf(stack, async () => {
        const updated = await client.stores.update('tuned', {
          clientKwargs: { endpoint_url: 'http://127.0.0.1:9', region_name: 'eu-west-1' },
          configKwargs: {},
          s3AdditionalKwargs: { ServerSideEncryption: 'AES256' },
        });
        expect(updated.clientKwargs).toEqual({ endpoint_url: 'http://127.0.0.1:9', region_name: 'eu-west-1' });
        expect(updated.configKwargs).toBeUndefined();
        expect(updated.s3AdditionalKwargs).toEqual({ ServerSideEncryption: 'AES256' });
      });
      expect(events.map((e) => e.changes)).toEqual([['clientKwargs', 'configKwargs']]);
      expect(await client.stores.describe('tuned')).toMatchObject({ clientKwargs: { region_name: 'eu-west-1' }, s3AdditionalKwargs: { ServerSideEncryption: 'AES256' } });
    });

    it('sets and removes the authentication secret', async () => {
      await client.secrets.create('tuned-keys', S3RVER_CREDENTIALS);
      expect((await client.stores.update('tuned', { authenticationSecret: 'tuned-keys' })).authenticationSecret).toBe('tuned-keys');
      const events = await eventsOf(stack, async () => {
        expect((await client.stores.update('tuned', { authenticationSecret: null })).authenticationSecret).toBeUndefined();
      });
      expect(events.map((e) => [e.type, e.changes])).toEqual([['store.updated', ['authenticationSecret']]]);
      // No store uses it any longer.
      expect(await client.secrets.delete('tuned-keys')).toEqual({ name: 'tuned-keys', deleted: true });
    });

    it('answers an update that changes nothing with the store as it is, and publishes no event', async () => {
      const before = await client.stores.describe('tuned');
      const events = await eventsOf(stack, async () => {
        expect(await client.stores.update('tuned', { path: before.path })).toEqual(before);
      });
      expect(events).toEqual([]);
    });

    it.each([
      ['a path of another flavor', { path: 'az://container' }, 'INVALID_STORE_PATH', 'invalid s3 path "az://container": expected s3://bucket[/prefix]'],
      ['a bucket name with capitals', { path: 's3://Tuned' }, 'INVALID_STORE_PATH', '"Tuned" is not a valid bucket name'],
      ['an unknown option', { configKwargs: { signature_version: 's3v4' } }, 'INVALID_STORE_OPTION', 'config_kwargs: unknown option "signature_version" (no s3 equivalent)'],
      ['an option value of the wrong kind', { clientKwargs: { verify: 'no' } }, 'INVALID_STORE_OPTION', 'client_kwargs.verify'],
      ['a secret that does not exist', { authenticationSecret: 'never-created' }, 'SECRET_NOT_FOUND', 'no secret "never-created"'],
      ['nothing to change', {}, 'BAD_REQUEST', 'nothing to update'],
    ])('refuses %s, says which and why, and leaves the store as it was', async (_, changes, code, message) => {
      const before = await client.stores.describe('tuned');
      const error = await client.stores.update('tuned', changes).catch((e: Error & { code: string }) => e);
      expect(error).toMatchObject({ code });
      expect((error as Error).message).toContain(message);
      expect(await client.stores.describe('tuned')).toEqual(before);
    });

    it('refuses s3 options on a local store with INVALID_STORE_OPTION', async () => {
      await expect(client.stores.update('moving', { clientKwargs: { region_name: 'x' } })).rejects.toMatchObject({
        code: 'INVALID_STORE_OPTION',
        message: 'the local flavor takes no client_kwargs',
      });
    });

    it('answers STORE_NOT_FOUND for an unknown store', async () => {
      await expect(client.stores.update('nowhere', { path: '/srv/x' })).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
    });
  });

  describe('artifact store rename', () => {
    it('renames a store; its stacks, the active one included, follow and keep routing to it', async () => {
      await client.stores.register('old-name', localStore('renamed'));
      await client.stacks.register('follows', 'old-name');
      await client.stacks.register('follows-active', 'old-name', { setActive: true });
      try {
        const created = (await client.stores.describe('old-name')).createdAt;
        const events = await eventsOf(stack, async () => {
          expect(await client.stores.rename('old-name', 'new-name')).toMatchObject({ name: 'new-name', path: path.join(stack.dataDir, 'renamed'), createdAt: created });
        });
        expect(events.map((e) => [e.subject, e.name, e.previousName, e.artifactStore, e.changes])).toEqual([
          ['abus.events.registry.store.renamed', 'new-name', 'old-name', null, ['name']],
          ['abus.events.registry.stack.updated', 'follows', null, 'new-name', ['artifactStore']],
          ['abus.events.registry.stack.updated', 'follows-active', null, 'new-name', ['artifactStore']],
        ]);
        await expect(client.stores.describe('old-name')).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
        expect((await client.stacks.describe('follows')).artifactStore).toBe('new-name');
        expect(await client.stacks.describe()).toMatchObject({ name: 'follows-active', artifactStore: 'new-name', active: true });
        expect((await client.upload(undefined, 'routed.txt', streamOf(Buffer.from('still here')))).store).toBe('new-name');
        expect(await readFile(path.join(stack.dataDir, 'renamed', 'routed.txt'), 'utf8')).toBe('still here');
      } finally {
        await client.stacks.set('default');
      }
    });

    it('keeps the secret of a renamed store', async () => {
      const bucket = await createTestBucket(endpoint, 'rename');
      await client.secrets.create('renamed-keys', S3RVER_CREDENTIALS);
      await client.stores.register('s3-old', s3StoreDefinition(endpoint, bucket, 'renamed-keys'));
      await client.stores.rename('s3-old', 's3-new');
      expect((await client.stores.describe('s3-new')).authenticationSecret).toBe('renamed-keys');
      expect((await client.upload('s3-new', 'x.bin', streamOf(Buffer.from('x')))).uri).toBe(`s3://${bucket}/x.bin`);
      await expect(client.secrets.delete('renamed-keys')).rejects.toMatchObject({ code: 'SECRET_IN_USE', message: expect.stringContaining('s3-new') });
    });

    it('refuses a name that is taken with STORE_EXISTS, and renames nothing', async () => {
      await client.stores.register('taken-a', localStore('taken-a'));
      await client.stores.register('taken-b', localStore('taken-b'));
      await expect(client.stores.rename('taken-a', 'taken-b')).rejects.toMatchObject({ code: 'STORE_EXISTS' });
      expect((await client.stores.describe('taken-a')).path).toBe(path.join(stack.dataDir, 'taken-a'));
      expect((await client.stores.describe('taken-b')).path).toBe(path.join(stack.dataDir, 'taken-b'));
    });

    it('answers STORE_NOT_FOUND for an unknown store, and BAD_REQUEST for the same name', async () => {
      await expect(client.stores.rename('nowhere', 'somewhere')).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
      await expect(client.stores.rename('taken-a', 'taken-a')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(client.stores.rename('taken-a', 'no spaces')).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('newName') });
    });
  });

  describe('artifact store delete', () => {
    it('with --force, publishes the deletion of each of its stacks, then of the store', async () => {
      await client.stores.register('doomed', localStore('doomed'));
      await client.stacks.register('doomed-stack', 'doomed');
      const events = await eventsOf(stack, () => client.stores.delete('doomed', { force: true }));
      expect(events.map((e) => [e.type, e.name])).toEqual([
        ['stack.deleted', 'doomed-stack'],
        ['store.deleted', 'doomed'],
      ]);
    });

    it('publishes nothing when it is refused', async () => {
      await client.stores.register('kept-in-use', localStore('kept-in-use'));
      await client.stacks.register('keeps-it', 'kept-in-use');
      expect(await eventsOf(stack, () => expect(client.stores.delete('kept-in-use')).rejects.toMatchObject({ code: 'STORE_IN_USE' }))).toEqual([]);
    });
  });

  describe('secret update', () => {
    it('merges new values, removes keys, and gives the stores that use it the new values at once', async () => {
      const bucket = await createTestBucket(endpoint, 'secret-update');
      await client.secrets.create('rotating', { aws_access_key_id: 'WRONG', aws_secret_access_key: 'wrong-secret', note: 'temporary' });
      await client.stores.register('rotating', s3StoreDefinition(endpoint, bucket, 'rotating'));
      await expect(client.upload('rotating', 'a.bin', streamOf(Buffer.from('a')))).rejects.toMatchObject({ code: 'ACCESS_DENIED' });

      const events = await eventsOf(stack, async () => {
        const updated = await client.secrets.update('rotating', { values: S3RVER_CREDENTIALS, removeKeys: ['note'] });
        expect(updated).toMatchObject({ name: 'rotating', keys: ['aws_access_key_id', 'aws_secret_access_key'] });
      });
      expect(events).toEqual([
        expect.objectContaining({
          type: 'secret.updated',
          name: 'rotating',
          changes: ['aws_access_key_id', 'aws_secret_access_key', 'note'],
          keys: ['aws_access_key_id', 'aws_secret_access_key'],
        }),
      ]);
      expect((await client.upload('rotating', 'a.bin', streamOf(Buffer.from('a')))).store).toBe('rotating');
    });

    it.each([
      ['a key it does not have', { removeKeys: ['missing'] }, 'secret "rotating" has no key(s) "missing" to remove'],
      ['every key', { removeKeys: ['aws_access_key_id', 'aws_secret_access_key'] }, 'would have no key left; delete it instead'],
      ['a key that is set and removed at once', { values: { a: 'b' }, removeKeys: ['a'] }, '"a" are both set and removed'],
      ['nothing', {}, 'nothing to update'],
      ['a key that is no key', { values: { 'not a key': 'x' } }, 'secret keys are letters, digits and "_"'],
    ])('refuses to remove or set %s with BAD_REQUEST, and keeps the secret as it was', async (_, changes, message) => {
      const before = (await client.secrets.describe('rotating')).keys;
      await expect(client.secrets.update('rotating', changes)).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining(message) });
      expect((await client.secrets.describe('rotating')).keys).toEqual(before);
    });

    it('answers SECRET_NOT_FOUND for an unknown secret', async () => {
      await expect(client.secrets.update('nowhere', { values: { a: 'b' } })).rejects.toMatchObject({ code: 'SECRET_NOT_FOUND' });
    });
  });

  describe('secret describe', () => {
    it('shows keys, dates and the stores that use the secret, never a value', async () => {
      await client.secrets.create('described', { account_name: 'devstoreaccount1', account_key: 'described-value-3b8f' });
      await client.stores.register('uses-described', { flavor: 'azure', path: 'az://some-container', authenticationSecret: 'described' });
      const described = await client.secrets.describe('described');
      expect(described).toEqual({
        name: 'described',
        keys: ['account_key', 'account_name'],
        stores: ['uses-described'],
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      expect(JSON.stringify(described)).not.toContain('described-value-3b8f');
      await expect(client.secrets.describe('nowhere')).rejects.toMatchObject({ code: 'SECRET_NOT_FOUND' });
    });
  });

  describe('secret rotate-key', () => {
    it('has nothing to re-seal while the registry has one key', async () => {
      const result = await client.secrets.rotateKey();
      expect(result).toEqual({ keyId: expect.stringMatching(/^[0-9a-f]{12}$/), resealed: 0, unchanged: (await client.secrets.list()).length, unreadable: [] });
    });
  });

  describe('stacks', () => {
    it('publish stack.registered, stack.set (also for --set at registration) and stack.deleted', async () => {
      await client.stores.register('stacked-events', localStore('stacked-events'));
      const events = await eventsOf(stack, async () => {
        await client.stacks.register('evented', 'stacked-events', { setActive: true });
        await client.stacks.set('default');
        await client.stacks.delete('evented');
      });
      expect(events.map((e) => [e.type, e.name, e.artifactStore, e.changes])).toEqual([
        ['stack.registered', 'evented', 'stacked-events', ['artifactStore']],
        ['stack.set', 'evented', 'stacked-events', ['active']],
        ['stack.set', 'default', 'default', ['active']],
        ['stack.deleted', 'evented', 'stacked-events', []],
      ]);
    });

    it('publish nothing for a refused change', async () => {
      const events = await eventsOf(stack, async () => {
        await expect(client.stacks.delete('default')).rejects.toMatchObject({ code: 'STACK_IN_USE' });
        await expect(client.stacks.set('nowhere')).rejects.toMatchObject({ code: 'STACK_NOT_FOUND' });
        await expect(client.stacks.register('default', 'default')).rejects.toMatchObject({ code: 'STACK_EXISTS' });
      });
      expect(events).toEqual([]);
    });
  });

  describe('registry events', () => {
    it('include those of the first start, with no requester', async () => {
      const first = (await registryEvents(stack)).slice(0, 3);
      expect(first.map((e) => [e.type, e.name, e.requester])).toEqual([
        ['store.registered', 'default', null],
        ['stack.registered', 'default', null],
        ['stack.set', 'default', null],
      ]);
      expect(first[0]).toMatchObject({ flavor: 'local', path: path.join(stack.dataDir, 'artifacts'), changes: ['flavor', 'path'] });
    });

    it('name the requester the client declares', async () => {
      const other = await stack.client({ requester: 'alice@laptop' });
      const events = await eventsOf(stack, () => other.secrets.create('alices', { token: 'alices-value' }));
      expect(events).toEqual([expect.objectContaining({ type: 'secret.created', requester: 'alice@laptop', keys: ['token'], changes: ['token'] })]);
    });

    it('are recorded by the audit service, one row per event, and queried by kind, name, type, requester and time', async () => {
      await auditCaughtUp(stack.nats.url);
      const stream = await registryEvents(stack);
      const records = await client.audit.queryRegistry({ limit: 10_000 });
      expect(records.map(({ streamSequence: _, recordedAt: __, ...event }) => event)).toEqual(stream.map(({ subject: _, ...event }) => event));
      expect(await stack.auditDb.selectFrom('registry_events').select('event_id').execute()).toHaveLength(stream.length);

      const renamed = await client.audit.queryRegistry({ name: 'old-name' });
      expect(renamed.map((r) => [r.type, r.name])).toEqual([
        ['store.registered', 'old-name'],
        ['store.renamed', 'new-name'],
      ]);
      expect((await client.audit.queryRegistry({ kind: 'secret', type: 'secret.updated' })).map((r) => r.name)).toEqual(['rotating']);
      expect((await client.audit.queryRegistry({ requester: 'alice@laptop' })).map((r) => r.type)).toEqual(['secret.created']);
      const last = stream.at(-1);
      expect((await client.audit.queryRegistry({ since: last?.time })).map((r) => r.id)).toContain(last?.id);
      // Artifact queries still answer with artifact events only.
      expect((await client.audit.query({ limit: 10_000 })).every((r) => 'operation' in r)).toBe(true);
    });
  });
});

describe('registry events while JetStream refuses them', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;

  beforeAll(async () => {
    stack = await startTestStack();
    client = await stack.client();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('are kept in the outbox with their committed change, and published once the stream is back', async () => {
    const nc = await connect({ servers: stack.nats.url });
    try {
      await (await jetstreamManager(nc)).streams.delete(EVENTS_STREAM);
      // The change commits and is answered although its event cannot be published.
      expect(await client.secrets.create('during-outage', { token: 'x' })).toMatchObject({ name: 'during-outage' });
      expect(await stack.registryDb.selectFrom('event_outbox').select('event_id').execute()).toHaveLength(1);

      await ensureEventsStream(nc);
      const published = await eventually(
        () => registryEvents(stack).catch(() => []),
        (events) => events.some((e) => e.name === 'during-outage'),
        30_000,
      );
      expect(published.filter((e) => e.name === 'during-outage').map((e) => e.type)).toEqual(['secret.created']);
      const outbox = () => stack.registryDb.selectFrom('event_outbox').select('event_id').execute();
      expect(await eventually(outbox, (rows) => rows.length === 0)).toEqual([]);
    } finally {
      await nc.close();
    }
  });
});
