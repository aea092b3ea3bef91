import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startS3Server, type TestS3Server } from './harness/s3-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    s3Endpoint: string;
  }
}

let s3: TestS3Server | undefined;

/** One s3rver for the run; each test file makes buckets of its own. */
export async function setup(project: TestProject): Promise<void> {
  s3 = await startS3Server();
  project.provide('s3Endpoint', s3.endpoint);
}

export async function teardown(): Promise<void> {
  await s3?.stop();
}
