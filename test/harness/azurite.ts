import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { BlobServiceClient } from '@azure/storage-blob';
import type { StoreDefinition } from '@artifact-bus/contracts';
import { freePort, startProcess, stopProcess, tempDir, waitForPort } from './processes.ts';

/** Azurite's well-known development account. */
export const AZURITE_ACCOUNT = {
  account_name: 'devstoreaccount1',
  account_key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
};

export interface TestAzurite {
  /** Blob endpoint, for `client_kwargs.account_url`. */
  accountUrl: string;
  connectionString: string;
  /** A client for checking what the emulator holds, behind the stack's back. */
  client(): BlobServiceClient;
  createContainer(name: string): Promise<void>;
  stop(): Promise<void>;
}

function connectionStringFor(accountUrl: string): string {
  return `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT.account_name};AccountKey=${AZURITE_ACCOUNT.account_key};BlobEndpoint=${accountUrl};`;
}

/** A client of an Azurite for checking what it holds, behind the stack's back. */
export function azuriteAdminClient(accountUrl: string): BlobServiceClient {
  return BlobServiceClient.fromConnectionString(connectionStringFor(accountUrl));
}

/** A fresh container with a random name: test files share one Azurite. */
export async function createTestContainer(accountUrl: string, purpose: string): Promise<string> {
  const name = `abus-${purpose}-${randomBytes(4).toString('hex')}`;
  await azuriteAdminClient(accountUrl).getContainerClient(name).create();
  return name;
}

/** Every blob name in a container, and the names of blobs that hold uncommitted blocks. */
export async function containerBlobs(accountUrl: string, container: string): Promise<{ committed: string[] }> {
  const client = azuriteAdminClient(accountUrl).getContainerClient(container);
  const committed: string[] = [];
  for await (const blob of client.listBlobsFlat()) committed.push(blob.name);
  return { committed: committed.sort() };
}

/** Block ids staged on `blobName` and not committed (none when the blob has no block list at all). */
export async function uncommittedBlocks(accountUrl: string, container: string, blobName: string): Promise<number> {
  const blob = azuriteAdminClient(accountUrl).getContainerClient(container).getBlockBlobClient(blobName);
  try {
    return (await blob.getBlockList('uncommitted')).uncommittedBlocks?.length ?? 0;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return 0;
    throw error;
  }
}

/** Blobs that hold staged blocks no commit has taken (uploads begun and neither committed nor discarded). */
export async function blobsWithUncommittedBlocks(accountUrl: string, container: string): Promise<string[]> {
  const client = azuriteAdminClient(accountUrl).getContainerClient(container);
  const names: string[] = [];
  for await (const blob of client.listBlobsFlat({ includeUncommitedBlobs: true })) {
    if ((await uncommittedBlocks(accountUrl, container, blob.name)) > 0) names.push(blob.name);
  }
  return names.sort();
}

/** The definition of an azure store on an Azurite container, authenticated by the secret `secretName` (account name + key). */
export function azureStoreDefinition(accountUrl: string, container: string, secretName: string, prefix = ''): StoreDefinition {
  return {
    flavor: 'azure',
    path: `az://${container}${prefix ? `/${prefix}` : ''}`,
    authenticationSecret: secretName,
    clientKwargs: { account_url: accountUrl },
  };
}

/** Azurite's blob service in a child process, on a free port, telemetry off. */
export async function startAzurite(): Promise<TestAzurite> {
  const port = await freePort();
  const dir = await tempDir('azurite');
  const bin = createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js');
  const child = startProcess(
    process.execPath,
    [bin, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', dir.path, '--silent', '--skipApiVersionCheck', '--disableTelemetry'],
    { logName: 'azurite' },
  );
  await waitForPort(port);
  const accountUrl = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT.account_name}`;
  const connectionString = connectionStringFor(accountUrl);
  const client = () => azuriteAdminClient(accountUrl);
  return {
    accountUrl,
    connectionString,
    client,
    async createContainer(name) {
      await client().getContainerClient(name).createIfNotExists();
    },
    async stop() {
      await stopProcess(child);
      await dir.remove();
    },
  };
}
