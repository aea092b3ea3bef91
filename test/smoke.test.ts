import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, randomArtifact, startTestStack, streamOf, type TestStack } from './harness/index.ts';

describe('harness', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('round-trips an artifact through the default store', async () => {
    const client = await stack.client();
    const artifact = randomArtifact(3 * 1024 * 1024 + 17);
    const result = await client.upload(undefined, 'a/b.bin', streamOf(artifact.bytes));
    expect(result.sha256).toBe(artifact.sha256);
    const back = await collect(await client.download('default', 'a/b.bin'));
    expect(back.equals(artifact.bytes)).toBe(true);
  });
});
