import { createRequire } from 'node:module';
import { BlobServiceClient } from '@azure/storage-blob';
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
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT.account_name};AccountKey=${AZURITE_ACCOUNT.account_key};BlobEndpoint=${accountUrl};`;
  const client = () => BlobServiceClient.fromConnectionString(connectionString);
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
