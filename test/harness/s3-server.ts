import { createRequire } from 'node:module';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
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

/** s3rver in a child process of its own, on a free port, storing under a temp folder. */
export async function startS3Server(): Promise<TestS3Server> {
  const port = await freePort();
  const dir = await tempDir('s3rver');
  const bin = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js');
  const child = startProcess(process.execPath, [bin, '-d', dir.path, '-a', '127.0.0.1', '-p', String(port), '--silent', '--no-vhost-buckets'], { logName: 's3rver' });
  await waitForPort(port);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = () =>
    new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: S3RVER_CREDENTIALS.aws_access_key_id, secretAccessKey: S3RVER_CREDENTIALS.aws_secret_access_key },
    });
  return {
    endpoint,
    client,
    async createBucket(name) {
      const s3 = client();
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      s3.destroy();
    },
    async stop() {
      await stopProcess(child);
      await dir.remove();
    },
  };
}
