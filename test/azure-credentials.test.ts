import { ClientSecretCredential, DefaultAzureCredential } from '@azure/identity';
import { ContainerSASPermissions, generateBlobSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ArtifactBusClient } from '@artifact-bus/client';
import { hashingBody } from '@artifact-bus/storage';
import { AzureBackend, azureServiceClient } from '@artifact-bus/storage/azure';
import { AZURITE_ACCOUNT, collect, createTestContainer, randomArtifact, startTestStack, streamOf, type TestStack } from './harness/index.ts';

/**
 * Every way an azure store can authenticate, in the documented order. Azurite stands in for
 * Azure Storage; Entra ID (service principal, DefaultAzureCredential) cannot run here, so those
 * are checked at the boundary: the right credential type is chosen, no token is requested.
 */
describe('azure store credentials', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;
  let accountUrl: string;
  let container: string;
  const connectionString = () =>
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT.account_name};AccountKey=${AZURITE_ACCOUNT.account_key};BlobEndpoint=${accountUrl};`;

  beforeAll(async () => {
    stack = await startTestStack();
    client = await stack.client();
    accountUrl = inject('azuriteAccountUrl');
    container = await createTestContainer(accountUrl, 'creds');
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function roundTrip(store: string, values: Record<string, string>, clientKwargs: Record<string, unknown> = { account_url: accountUrl }) {
    await client.secrets.create(`${store}-secret`, values);
    await client.stores.register(store, { flavor: 'azure', path: `az://${container}/${store}`, authenticationSecret: `${store}-secret`, clientKwargs });
    const artifact = randomArtifact(3 * 1024 * 1024 + 1);
    await client.upload(store, 'model.bin', streamOf(artifact.bytes));
    return (await collect(await client.download(store, 'model.bin'))).equals(artifact.bytes);
  }

  it('authenticates with a secret holding a connection string', async () => {
    expect(await roundTrip('by-connection-string', { connection_string: connectionString() }, {})).toBe(true);
  });

  it('authenticates with a secret holding account_name and account_key', async () => {
    expect(await roundTrip('by-account-key', AZURITE_ACCOUNT)).toBe(true);
  });

  it('authenticates with a secret holding account_name and a SAS token', async () => {
    const sas = generateBlobSASQueryParameters(
      { containerName: container, permissions: ContainerSASPermissions.parse('racwdl'), expiresOn: new Date(Date.now() + 3600_000) },
      new StorageSharedKeyCredential(AZURITE_ACCOUNT.account_name, AZURITE_ACCOUNT.account_key),
    ).toString();
    expect(await roundTrip('by-sas', { account_name: AZURITE_ACCOUNT.account_name, sas_token: sas })).toBe(true);
  });

  it('takes the account from abfs://container@account.dfs.core.windows.net paths', async () => {
    await client.secrets.create('key-only', { account_key: AZURITE_ACCOUNT.account_key });
    await client.stores.register('by-abfs', {
      flavor: 'azure',
      path: `abfs://${container}@${AZURITE_ACCOUNT.account_name}.dfs.core.windows.net/abfs`,
      authenticationSecret: 'key-only',
      clientKwargs: { account_url: accountUrl },
    });
    await client.upload('by-abfs', 'x.txt', streamOf(Buffer.from('abfs')));
    expect((await collect(await client.download('by-abfs', 'x.txt'))).toString()).toBe('abfs');
    expect((await client.stat('by-abfs', 'x.txt')).uri).toBe(`az://${container}/abfs/x.txt`);
  });

  it('answers ACCESS_DENIED for a wrong account key, naming no secret', async () => {
    const wrongKey = Buffer.alloc(64, 1).toString('base64');
    await client.secrets.create('wrong-key', { account_name: AZURITE_ACCOUNT.account_name, account_key: wrongKey });
    await client.stores.register('wrong', { flavor: 'azure', path: `az://${container}/wrong`, authenticationSecret: 'wrong-key', clientKwargs: { account_url: accountUrl } });
    const failure = await client.upload('wrong', 'x.bin', streamOf(Buffer.from('x'))).catch((error: Error) => error);
    expect(failure).toMatchObject({ code: 'ACCESS_DENIED' });
    expect(JSON.stringify(failure) + String((failure as Error).message)).not.toContain(wrongKey);
  });

  it('answers ACCESS_DENIED for a secret with none of the credential keys', async () => {
    await client.secrets.create('useless', { account_name: AZURITE_ACCOUNT.account_name });
    await client.stores.register('useless', { flavor: 'azure', path: `az://${container}/useless`, authenticationSecret: 'useless', clientKwargs: { account_url: accountUrl } });
    await expect(client.stat('useless', 'x')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
  });

  describe('without a secret (implicit)', () => {
    const location = () => ({ flavor: 'azure' as const, container, prefix: 'implicit' });
    const tuning = { partSizeBytes: 1024 * 1024, partsInFlight: 2 };

    it('uses AZURE_STORAGE_CONNECTION_STRING first', async () => {
      const env = { AZURE_STORAGE_CONNECTION_STRING: connectionString(), AZURE_STORAGE_ACCOUNT_NAME: 'ignored', AZURE_STORAGE_ACCOUNT_KEY: 'ignored' };
      const backend = new AzureBackend({ location: location(), env, ...tuning });
      await backend.put('env.txt', hashingBody(streamOf(Buffer.from('from env'))));
      expect((await backend.stat('env.txt')).sizeBytes).toBe(8);
    });

    it('then AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY', async () => {
      const env = { AZURE_STORAGE_ACCOUNT_NAME: AZURITE_ACCOUNT.account_name, AZURE_STORAGE_ACCOUNT_KEY: AZURITE_ACCOUNT.account_key };
      const service = azureServiceClient({ location: location(), clientKwargs: { account_url: accountUrl }, env });
      expect(service.credential).toBeInstanceOf(StorageSharedKeyCredential);
      const names: string[] = [];
      for await (const blob of service.getContainerClient(container).listBlobsFlat({ prefix: 'implicit/' })) names.push(blob.name);
      expect(names).toContain('implicit/env.txt');
    });

    it('then DefaultAzureCredential (Entra ID: managed identity, workload identity, Azure CLI), not exercised here', () => {
      const service = azureServiceClient({ location: { ...location(), account: 'prodaccount' }, env: {} });
      expect(service.credential).toBeInstanceOf(DefaultAzureCredential);
      expect(service.url).toBe('https://prodaccount.blob.core.windows.net/');
    });

    it('refuses a store with no account to talk to', () => {
      expect(() => azureServiceClient({ location: location(), env: {} })).toThrow(expect.objectContaining({ code: 'ACCESS_DENIED' }));
    });
  });

  it('uses a service principal (client_id, client_secret, tenant_id) through Entra ID, not exercised here', () => {
    const service = azureServiceClient({
      location: { flavor: 'azure', container: 'c00', prefix: '' },
      credentials: { account_name: 'prodaccount', client_id: 'id', client_secret: 'not-a-real-secret', tenant_id: '00000000-0000-0000-0000-000000000000' },
      env: {},
    });
    expect(service.credential).toBeInstanceOf(ClientSecretCredential);
  });
});
