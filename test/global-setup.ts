import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startAzurite, type TestAzurite } from './harness/azurite.ts';
import { startS3Server, type TestS3Server } from './harness/s3-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    s3Endpoint: string;
    /** Azurite's blob endpoint (`client_kwargs.account_url`). */
    azuriteAccountUrl: string;
  }
}

let s3: TestS3Server | undefined;
let azurite: TestAzurite | undefined;

/** One s3rver and one Azurite for the run; each test file makes buckets and containers of its own. */
export async function setup(project: TestProject): Promise<void> {
  [s3, azurite] = await Promise.all([startS3Server(), startAzurite()]);
  project.provide('s3Endpoint', s3.endpoint);
  project.provide('azuriteAccountUrl', azurite.accountUrl);
}

export async function teardown(): Promise<void> {
  await Promise.allSettled([s3?.stop(), azurite?.stop()]);
}
