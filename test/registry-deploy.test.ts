import { randomBytes } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ArtifactBusClient } from '@artifact-bus/client';
import { RegistryEvent } from '@artifact-bus/contracts';
import {
  AZURITE_ACCOUNT,
  azureStoreDefinition,
  azuriteAdminClient,
  collect,
  createTestBucket,
  createTestContainer,
  readEventsStream,
  s3AdminClient,
  S3RVER_CREDENTIALS,
  s3StoreDefinition,
  startTestStack,
  streamOf,
  type TestStack,
} from './harness/index.ts';

/** A name no test has used: deploy is to create it. */
const freshName = (purpose: string) => `abus-deploy-${purpose}-${randomBytes(4).toString('hex')}`;

async function bucketExists(endpoint: string, bucket: string): Promise<boolean> {
  const s3 = s3AdminClient(endpoint);
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw error;
  } finally {
    s3.destroy();
  }
}

describe('artifact-store deploy', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;
  let endpoint: string;
  let accountUrl: string;

  beforeAll(async () => {
    stack = await startTestStack();
    client = await stack.client();
    endpoint = inject('s3Endpoint');
    accountUrl = inject('azuriteAccountUrl');
    await client.secrets.create('s3rver', S3RVER_CREDENTIALS);
    await client.secrets.create('azurite', AZURITE_ACCOUNT);
    await client.secrets.create('wrong-s3', { aws_access_key_id: 'WRONG', aws_secret_access_key: 'WRONG' });
    await client.secrets.create('wrong-azure', { account_name: AZURITE_ACCOUNT.account_name, account_key: Buffer.alloc(64, 1).toString('base64') });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  describe('of an s3 store', () => {
    it('creates the missing bucket, then reports that it exists', async () => {
      const bucket = freshName('s3');
      await client.stores.register('s3-fresh', s3StoreDefinition(endpoint, bucket, 's3rver', 'team/models'));
      expect(await bucketExists(endpoint, bucket)).toBe(false);

      expect(await client.stores.deploy('s3-fresh')).toEqual({ store: 's3-fresh', flavor: 's3', resource: `s3://${bucket}`, created: true });
      expect(await bucketExists(endpoint, bucket)).toBe(true);
      expect(await client.stores.deploy('s3-fresh')).toMatchObject({ created: false });

      const bytes = randomBytes(1000);
      expect((await client.upload('s3-fresh', 'a.bin', streamOf(bytes))).uri).toBe(`s3://${bucket}/team/models/a.bin`);
      expect((await collect(await client.download('s3-fresh', 'a.bin'))).equals(bytes)).toBe(true);
    });

    it('reports a bucket that was there before as existing', async () => {
      const bucket = await createTestBucket(endpoint, 'deploy');
      await client.stores.register('s3-existing', s3StoreDefinition(endpoint, bucket, 's3rver'));
      expect(await client.stores.deploy('s3-existing')).toEqual({ store: 's3-existing', flavor: 's3', resource: `s3://${bucket}`, created: false });
    });

    it('creates the bucket of a store outside us-east-1 (the region goes in the request as LocationConstraint)', async () => {
      const bucket = freshName('region');
      await client.stores.register('s3-region', { ...s3StoreDefinition(endpoint, bucket, 's3rver'), clientKwargs: { endpoint_url: endpoint, region_name: 'eu-west-1' } });
      expect(await client.stores.deploy('s3-region')).toMatchObject({ created: true });
      expect(await bucketExists(endpoint, bucket)).toBe(true);
    });

    it('refuses with ACCESS_DENIED when s3 refuses the credentials, and creates nothing', async () => {
      const bucket = freshName('denied');
      await client.stores.register('s3-denied', s3StoreDefinition(endpoint, bucket, 'wrong-s3'));
      await expect(client.stores.deploy('s3-denied')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
      expect(await bucketExists(endpoint, bucket)).toBe(false);
    });

    it('refuses with BACKEND_UNAVAILABLE when the endpoint does not answer', async () => {
      await client.stores.register('s3-nowhere', { ...s3StoreDefinition('http://127.0.0.1:9', freshName('nowhere'), 's3rver'), configKwargs: { retries: { max_attempts: 1 } } });
      await expect(client.stores.deploy('s3-nowhere')).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    });
  });

  describe('of an azure store', () => {
    it('creates the missing container, then reports that it exists', async () => {
      const container = freshName('az');
      await client.stores.register('az-fresh', azureStoreDefinition(accountUrl, container, 'azurite', 'ml'));
      expect(await azuriteAdminClient(accountUrl).getContainerClient(container).exists()).toBe(false);

      expect(await client.stores.deploy('az-fresh')).toEqual({ store: 'az-fresh', flavor: 'azure', resource: `az://${container}`, created: true });
      expect(await azuriteAdminClient(accountUrl).getContainerClient(container).exists()).toBe(true);
      expect(await client.stores.deploy('az-fresh')).toMatchObject({ created: false });
      expect((await client.upload('az-fresh', 'a.bin', streamOf(Buffer.from('in azure')))).uri).toBe(`az://${container}/ml/a.bin`);
    });

    it('reports a container that was there before as existing', async () => {
      const container = await createTestContainer(accountUrl, 'deploy');
      await client.stores.register('az-existing', azureStoreDefinition(accountUrl, container, 'azurite'));
      expect(await client.stores.deploy('az-existing')).toMatchObject({ resource: `az://${container}`, created: false });
    });

    it('refuses with ACCESS_DENIED when Azure refuses the account key, and creates nothing', async () => {
      const container = freshName('denied');
      await client.stores.register('az-denied', azureStoreDefinition(accountUrl, container, 'wrong-azure'));
      await expect(client.stores.deploy('az-denied')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
      expect(await azuriteAdminClient(accountUrl).getContainerClient(container).exists()).toBe(false);
    });
  });

  describe('of a local store', () => {
    it('creates the missing folder, then reports that it exists', async () => {
      const folder = path.join(stack.dataDir, 'deployed', 'deep');
      await client.stores.register('local-fresh', { flavor: 'local', path: folder });
      expect(await client.stores.deploy('local-fresh')).toEqual({ store: 'local-fresh', flavor: 'local', resource: `file://${folder}`, created: true });
      expect((await stat(folder)).isDirectory()).toBe(true);
      expect(await client.stores.deploy('local-fresh')).toMatchObject({ created: false });
    });

    it('refuses a path that is a file with BACKEND_ERROR, saying so', async () => {
      const file = path.join(stack.dataDir, 'a-file');
      await writeFile(file, 'not a folder');
      await client.stores.register('local-file', { flavor: 'local', path: file });
      await expect(client.stores.deploy('local-file')).rejects.toMatchObject({ code: 'BACKEND_ERROR', message: `${file} exists and is not a folder` });
    });
  });

  it('answers STORE_NOT_FOUND for an unknown store', async () => {
    await expect(client.stores.deploy('nowhere')).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
  });

  it('publishes store.deployed with the requester, naming "created" only when it created something', async () => {
    const deployed = (await readEventsStream(stack.nats.url))
      .filter((m) => m.subject === 'abus.events.registry.store.deployed')
      .map((m) => RegistryEvent.parse(m.body))
      .filter((e) => e.name === 's3-fresh' || e.name === 'local-fresh');
    expect(deployed.map((e) => [e.name, e.changes, e.requester, e.flavor])).toEqual([
      ['s3-fresh', ['created'], 'test-suite', 's3'],
      ['s3-fresh', [], 'test-suite', 's3'],
      ['local-fresh', ['created'], 'test-suite', 'local'],
      ['local-fresh', [], 'test-suite', 'local'],
    ]);
  });
});
