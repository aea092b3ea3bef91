import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, randomArtifact, startNatsServer, startProcess, tempDir, type TestDatabase, type TestNatsServer } from './harness/index.ts';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
const abusBin = path.join(root, 'shared/client/bin/abus.js');

/**
 * The README's quick start, as a user runs it: the three services as their own processes
 * (their real main.ts, configured by environment only) and the `abus` CLI as a command.
 */
describe('quick start through the abus CLI', () => {
  let nats: TestNatsServer;
  let database: TestDatabase;
  let work: Awaited<ReturnType<typeof tempDir>>;
  const services = new Map<string, ChildProcess>();
  let env: NodeJS.ProcessEnv;

  async function abus(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const { stdout, stderr } = await run(process.execPath, [abusBin, ...args], { env, cwd: work.path, maxBuffer: 64 * 1024 * 1024 });
      return { stdout, stderr, code: 0 };
    } catch (error) {
      const failed = error as { stdout: string; stderr: string; code: number };
      return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
    }
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    database = await createTestDatabase();
    work = await tempDir('quickstart');
    env = {
      ...process.env,
      NATS_URL: nats.url,
      DATABASE_URL: database.url,
      ABUS_DATA_DIR: path.join(work.path, 'data'),
      ABUS_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
      ABUS_REQUESTER: 'quickstart-user',
      LOG_LEVEL: 'warn',
    };
    for (const service of ['registry', 'audit', 'transfer']) {
      services.set(service, startProcess(process.execPath, ['--import', 'tsx', path.join(root, 'services', service, 'src', 'main.ts')], { env, logName: service }));
    }
    // Ready when the CLI can see the default stack that the registry creates on first start.
    for (let attempt = 0; attempt < 100; attempt++) {
      const stacks = await abus('stack', 'list', '--output', 'json');
      if (stacks.code === 0 && stacks.stdout.includes('"default"')) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  });

  afterAll(async () => {
    for (const child of services.values()) if (child.exitCode === null) child.kill('SIGKILL');
    await nats?.stop();
    await database?.drop();
    await work?.remove();
  });

  it('uploads, downloads and audits an artifact in the default store', async () => {
    const artifact = randomArtifact(6 * 1024 * 1024 + 3);
    await writeFile(path.join(work.path, 'model.bin'), artifact.bytes);

    const upload = await abus('artifact', 'upload', './model.bin', 'default:runs/1/model.bin');
    expect(upload.code).toBe(0);
    expect(upload.stderr).toContain(artifact.sha256);

    const download = await abus('artifact', 'download', 'default:runs/1/model.bin', './copy.bin');
    expect(download.code).toBe(0);
    expect((await readFile(path.join(work.path, 'copy.bin'))).equals(artifact.bytes)).toBe(true);

    let records: { type: string; operation: string; sha256: string | null; requester: string | null }[] = [];
    for (let attempt = 0; attempt < 50 && !records.some((r) => r.operation === 'download' && r.type === 'completed'); attempt++) {
      const audit = await abus('audit', 'query', '--key', 'runs/1/model.bin', '--output', 'json');
      expect(audit.code).toBe(0);
      records = JSON.parse(audit.stdout);
    }
    const completedUpload = records.find((r) => r.operation === 'upload' && r.type === 'completed');
    expect(completedUpload?.sha256).toBe(artifact.sha256);
    expect(completedUpload?.requester).toBe('quickstart-user');
    expect(records.map((r) => `${r.operation}:${r.type}`)).toEqual(
      expect.arrayContaining(['upload:requested', 'upload:started', 'upload:completed', 'download:completed']),
    );

    const table = await abus('audit', 'query', '--key', 'runs/1/');
    expect(table.stdout).toMatch(/completed\s+│\s+upload/);
  });

  it('lists, stats and removes artifacts, with JSON output', async () => {
    await writeFile(path.join(work.path, 'small.txt'), 'hello');
    expect((await abus('artifact', 'upload', './small.txt', 'reports/a.txt', '--content-type', 'text/plain', '--metadata', 'run=7')).code).toBe(0);
    const listing = JSON.parse((await abus('artifact', 'ls', 'reports/', '--output', 'json')).stdout);
    expect(listing).toEqual([expect.objectContaining({ key: 'reports/a.txt', sizeBytes: 5 })]);
    const stat = JSON.parse((await abus('artifact', 'stat', 'default:reports/a.txt', '-o', 'json')).stdout);
    expect(stat.object).toMatchObject({ contentType: 'text/plain', metadata: { run: '7' }, sizeBytes: 5 });
    const stdout = await abus('artifact', 'download', 'reports/a.txt', '-');
    expect(stdout.stdout).toBe('hello');
    expect((await abus('artifact', 'rm', 'reports/a.txt')).code).toBe(0);
    const missing = await abus('artifact', 'stat', 'reports/a.txt');
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('OBJECT_NOT_FOUND');
  });

  it('exits with the error code of a refused request and prints no secret', async () => {
    const escape = await abus('artifact', 'download', 'default:../etc/passwd', './x');
    expect(escape.code).toBe(2);
    expect(escape.stderr).toContain('PATH_OUTSIDE_ROOT');

    const secretValue = 'quickstart-secret-value-9f8e7d';
    const created = await abus('secret', 'create', 'creds', '--aws_access_key_id=AKIDEXAMPLE', `--aws_secret_access_key=${secretValue}`);
    expect(created.code).toBe(0);
    const listed = await abus('secret', 'list', '--output', 'json');
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ name: 'creds', keys: ['aws_access_key_id', 'aws_secret_access_key'] })]);
    for (const output of [created, listed]) expect(output.stdout + output.stderr).not.toContain(secretValue);

    const badPath = await abus('artifact-store', 'register', 's3_store', '-f', 's3', '--path=s3://No_Such');
    expect(badPath.code).toBe(2);
    expect(badPath.stderr).toContain('INVALID_STORE_PATH');
  });

  it('registers a store and a stack, and the active stack gives the default store', async () => {
    const other = path.join(work.path, 'other-store');
    expect((await abus('artifact-store', 'register', 'other', '-f', 'local', `--path=${other}`)).code).toBe(0);
    expect((await abus('stack', 'register', 'dev', '-a', 'other', '--set')).code).toBe(0);
    const stacks = JSON.parse((await abus('stack', 'list', '-o', 'json')).stdout) as { name: string; active: boolean }[];
    expect(stacks.find((s) => s.active)?.name).toBe('dev');
    await writeFile(path.join(work.path, 'x.txt'), 'in the other store');
    expect((await abus('artifact', 'upload', './x.txt', 'x.txt')).code).toBe(0);
    expect(await readFile(path.join(other, 'x.txt'), 'utf8')).toBe('in the other store');
    expect((await abus('stack', 'set', 'default')).code).toBe(0);

    const copy = await abus('artifact', 'cp', 'default:runs/1/model.bin', 'other:copies/model.bin');
    expect(copy.code).toBe(0);
    expect(copy.stderr).toContain('copied   runs/1/model.bin');
    expect(copy.stderr).toContain('completed: 1 copied');
    expect((await readFile(path.join(other, 'copies/model.bin'))).equals(await readFile(path.join(work.path, 'model.bin')))).toBe(true);
    const again = await abus('artifact', 'cp', '--recursive', 'default:runs/', 'other:copies/runs/', '--output', 'json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ state: 'completed', objectsCopied: 1 });
    const missing = await abus('artifact', 'cp', 'default:no/such.bin', 'other:x.bin');
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('failed   no/such.bin: OBJECT_NOT_FOUND');
  });

  it('tails events live until interrupted', async () => {
    const since = new Date().toISOString();
    const tail = startProcess(process.execPath, [abusBin, 'events', 'tail', '--since', since, '--output', 'json'], { env, logName: 'tail' }) as ChildProcess & {
      output: () => string;
    };
    await writeFile(path.join(work.path, 'tailed.txt'), 'watched');
    expect((await abus('artifact', 'upload', './tailed.txt', 'tailed/x.txt')).code).toBe(0);
    const completed = () =>
      tail
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { type: string; key: string; sizeBytes: number })
        .find((event) => event.type === 'completed' && event.key === 'tailed/x.txt');
    for (let attempt = 0; attempt < 100 && !completed(); attempt++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(completed()).toMatchObject({ sizeBytes: 7 });
    const exited = once(tail, 'exit');
    tail.kill('SIGINT');
    expect((await exited)[0]).toBe(0);
  });

  it('stops every service cleanly on SIGTERM', async () => {
    for (const [name, child] of services) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      expect({ name, code }).toEqual({ name, code: 0 });
    }
  });
});
