import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { StoreDefinition } from '@artifact-bus/contracts';
import { freePort, startProcess, stopProcess, tempDir, waitForPort } from './processes.ts';

/** s3rver's fixed credentials: it checks signatures against them. */
export const S3RVER_CREDENTIALS = { aws_access_key_id: 'S3RVER', aws_secret_access_key: 'S3RVER' };

export interface TestS3Server {
  endpoint: string;
  /** A client for checking what the server holds, behind the stack's back. */
  client(): S3Client;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** A client of an s3rver for checking what it holds, behind the stack's back. */
export function s3AdminClient(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: S3RVER_CREDENTIALS.aws_access_key_id, secretAccessKey: S3RVER_CREDENTIALS.aws_secret_access_key },
  });
}

/** A fresh bucket with a random name: test files share one s3rver and must not see each other's objects. */
export async function createTestBucket(endpoint: string, purpose: string): Promise<string> {
  const name = `abus-${purpose}-${randomBytes(4).toString('hex')}`;
  const s3 = s3AdminClient(endpoint);
  try {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
  } finally {
    s3.destroy();
  }
  return name;
}

/** Every key in a bucket, Artifact Bus's own `.abus/` sidecars included. */
export async function bucketKeys(endpoint: string, bucket: string): Promise<string[]> {
  const s3 = s3AdminClient(endpoint);
  const keys: string[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((item) => item.Key ?? ''));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } finally {
    s3.destroy();
  }
  return keys.sort();
}

/** The definition of an s3 store on an s3rver bucket, authenticated by the secret `secretName`. */
export function s3StoreDefinition(endpoint: string, bucket: string, secretName: string, prefix = ''): StoreDefinition {
  return {
    flavor: 's3',
    path: `s3://${bucket}${prefix ? `/${prefix}` : ''}`,
    authenticationSecret: secretName,
    clientKwargs: { endpoint_url: endpoint, region_name: 'us-east-1' },
  };
}

/** s3rver in a child process of its own, on a free port, storing under a temp folder. */
export async function startS3Server(): Promise<TestS3Server> {
  const port = await freePort();
  const dir = await tempDir('s3rver');
  const bin = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js');
  // s3rver encrypts its list continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider.
  const child = startProcess(process.execPath, ['--openssl-legacy-provider', bin, '-d', dir.path, '-a', '127.0.0.1', '-p', String(port), '--silent', '--no-vhost-buckets'], { logName: 's3rver' });
  await waitForPort(port);
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    client: () => s3AdminClient(endpoint),
    async createBucket(name) {
      const s3 = s3AdminClient(endpoint);
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      s3.destroy();
    },
    async stop() {
      await stopProcess(child);
      await dir.remove();
    },
  };
}
