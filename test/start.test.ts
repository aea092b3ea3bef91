import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ArtifactBusClient } from '@artifact-bus/client';
import { collect, randomArtifact, startNatsServer, startProcess, streamOf, tempDir, type TestNatsServer } from './harness/index.ts';

const root = path.resolve(import.meta.dirname, '..');
const run = promisify(execFile);

async function waitForOutput(child: ChildProcess & { output?: () => string }, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!child.output?.().includes(text)) {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode} before "${text}":\n${child.output?.()}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms:\n${child.output?.()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('npm start', () => {
  let nats: TestNatsServer;
  let data: Awaited<ReturnType<typeof tempDir>>;

  afterAll(async () => {
    await nats?.stop();
    await data?.remove();
  });

  it('runs the whole stack on embedded defaults and stops cleanly on Ctrl-C', async () => {
    nats = await startNatsServer();
    data = await tempDir('start');
    const env = { NATS_URL: nats.url, ABUS_DATA_DIR: data.path, DATABASE_URL: '', ABUS_SECRET_KEY: '', LOG_LEVEL: 'warn' };
    const stack = startProcess(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/start.ts')], { env, logName: 'npm start' });
    await waitForOutput(stack, 'Artifact Bus is up', 240_000);

    // Embedded PostgreSQL (PGlite) for registry and audit, and a key generated for secrets.
    expect(existsSync(path.join(data.path, 'db', 'registry'))).toBe(true);
    expect(existsSync(path.join(data.path, 'db', 'audit'))).toBe(true);
    expect(existsSync(path.join(data.path, 'secret.key'))).toBe(true);

    const client = await ArtifactBusClient.connect({ natsUrl: nats.url });
    const artifact = randomArtifact(2 * 1024 * 1024 + 5);
    const stored = await client.upload(undefined, 'runs/1/model.bin', streamOf(artifact.bytes));
    expect(stored.uri).toBe(`file://${path.join(data.path, 'artifacts', 'runs/1/model.bin')}`);
    expect((await collect(await client.download('default', 'runs/1/model.bin'))).equals(artifact.bytes)).toBe(true);
    let records = await client.audit.query({ key: 'runs/1/model.bin', type: 'completed' });
    for (let i = 0; i < 50 && records.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      records = await client.audit.query({ key: 'runs/1/model.bin', type: 'completed' });
    }
    expect(records.map((r) => r.operation).sort()).toEqual(['download', 'upload']);
    await client.close();

    const exited = once(stack, 'exit');
    stack.kill('SIGINT');
    const [code] = await exited;
    expect(code).toBe(0);
    expect((stack as ChildProcess & { output: () => string }).output()).toContain('[abus] stopped');
    // The embedded databases (WebAssembly PostgreSQL) take long to start on a loaded 2-core machine.
  }, 300_000);
});

describe('service configuration', () => {
  it('refuses a bad variable at start and names it', async () => {
    const failure = await run(process.execPath, ['--import', 'tsx', path.join(root, 'services/transfer/src/main.ts')], {
      env: { ...process.env, ABUS_PART_SIZE_BYTES: 'lots', ABUS_WINDOW_CHUNKS: '0', NATS_URL: 'nats://127.0.0.1:1' },
    }).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain('CONFIG_INVALID');
    expect(failure?.stderr).toContain('ABUS_PART_SIZE_BYTES');
    expect(failure?.stderr).toContain('ABUS_WINDOW_CHUNKS');
  });
});
