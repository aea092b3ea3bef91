import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ArtifactBusClient } from '@artifact-bus/client';
import {
  auditCaughtUp,
  createTestBucket,
  createTestDatabase,
  eventually,
  readEventsStream,
  startNatsServer,
  tempDir,
  type TestDatabase,
  type TestNatsServer,
} from './harness/index.ts';

const root = path.resolve(import.meta.dirname, '..');
const abusBin = path.join(root, 'shared/client/bin/abus.js');

/** A service as its own process, every line it logs kept (the harness keeps only the last 20,000 characters). */
interface ServiceProcess {
  name: string;
  child: ChildProcess;
  output: string;
}

interface CliRun {
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Every secret command, as a user runs them against the real services (their own processes,
 * logging at trace level), including a key rotation with registry restarts. Then every place a
 * value could end up is searched for every value: CLI output, registry replies, the events
 * stream, audit rows, the registry's database and the logs of every service.
 */
describe('secret values through every secret command', () => {
  let nats: TestNatsServer;
  let database: TestDatabase;
  let work: Awaited<ReturnType<typeof tempDir>>;
  let client: ArtifactBusClient;
  let baseEnv: NodeJS.ProcessEnv;
  const services: ServiceProcess[] = [];
  const cli: CliRun[] = [];
  /** Registry replies the client received, as JSON. */
  const replies: string[] = [];

  const run = randomBytes(6).toString('hex');
  /** Distinct values, one per way in, so that a hit says which way leaked. */
  const canary = (way: string) => `canary-${way}-${run}`;
  const canaries = [
    'flag',
    'json-file',
    'yaml-file',
    'stdin',
    'inline',
    'update-flag',
    'update-file',
    'removed',
    'duplicate',
    'bad-yaml',
    'stray',
    'bad-key',
    'unknown-secret',
  ].map(canary);
  const oversized = canary('oversized').repeat(1000);
  const keyA = randomBytes(32).toString('base64');
  const keyB = randomBytes(32).toString('base64');
  const rotation: { unreadable?: CliRun; resealed?: CliRun; again?: CliRun; uploadWithoutOldKey?: CliRun } = {};

  function startService(name: string, env: NodeJS.ProcessEnv = {}): ServiceProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'services', name, 'src', 'main.ts')], {
      env: { ...baseEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const service: ServiceProcess = { name, child, output: '' };
    child.stdout?.on('data', (data: Buffer) => (service.output += data.toString()));
    child.stderr?.on('data', (data: Buffer) => (service.output += data.toString()));
    process.once('exit', () => child.kill('SIGKILL'));
    services.push(service);
    return service;
  }

  async function stopService(service: ServiceProcess): Promise<void> {
    if (service.child.exitCode !== null) return;
    const exited = once(service.child, 'exit');
    service.child.kill('SIGTERM');
    await exited;
  }

  /** Starts a registry and waits until it answers. */
  async function startRegistry(env: NodeJS.ProcessEnv): Promise<ServiceProcess> {
    const registry = startService('registry', env);
    await eventually(
      () => client.secrets.list().then(() => true, () => false),
      (up) => up,
      30_000,
    );
    return registry;
  }

  async function abus(args: string[], stdin = ''): Promise<CliRun> {
    const child = spawn(process.execPath, [abusBin, ...args], { cwd: work.path, env: baseEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    const result: CliRun = { args, code: -1, stdout: '', stderr: '' };
    child.stdout.on('data', (data: Buffer) => (result.stdout += data.toString()));
    child.stderr.on('data', (data: Buffer) => (result.stderr += data.toString()));
    child.stdin.end(stdin);
    [result.code] = (await once(child, 'exit')) as [number];
    cli.push(result);
    return result;
  }

  async function ok(...args: string[]): Promise<CliRun> {
    const result = await abus(args);
    expect({ args, code: result.code, stderr: result.stderr }).toMatchObject({ args, code: 0 });
    return result;
  }

  async function refused(args: string[], stdin?: string): Promise<CliRun> {
    const result = await abus(args, stdin);
    expect({ args, code: result.code }).not.toEqual({ args, code: 0 });
    return result;
  }

  const keep = <T>(value: T): T => {
    replies.push(JSON.stringify(value));
    return value;
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    database = await createTestDatabase();
    work = await tempDir('leaks');
    baseEnv = {
      ...process.env,
      NATS_URL: nats.url,
      DATABASE_URL: database.url,
      ABUS_DATA_DIR: path.join(work.path, 'data'),
      ABUS_REQUESTER: 'leak-test',
      LOG_LEVEL: 'trace',
    };
    client = await ArtifactBusClient.connect({ natsUrl: nats.url, requester: 'leak-test' });
    startService('audit');
    startService('transfer');
    let registry = await startRegistry({ ABUS_SECRET_KEY: keyA });

    const endpoint = inject('s3Endpoint');
    const bucket = await createTestBucket(endpoint, 'leaks');
    await writeFile(path.join(work.path, 'values.json'), JSON.stringify({ token: canary('json-file') }));
    await writeFile(path.join(work.path, 'values.yaml'), `token: ${canary('yaml-file')}\nother: |\n  ${canary('yaml-file')}\n`);
    await writeFile(path.join(work.path, 'update.yaml'), `extra: ${canary('update-file')}\n`);
    await writeFile(path.join(work.path, 'bad.yaml'), `token: [${canary('bad-yaml')}\n`);
    await writeFile(path.join(work.path, 'artifact.bin'), randomBytes(1000));

    // Every way in.
    await ok('secret', 'create', 's3-creds', '--aws_access_key_id=S3RVER', '--aws_secret_access_key=S3RVER', `--note=${canary('flag')}`);
    await ok('secret', 'create', 'from-json', '--values=@values.json', '-o', 'json');
    await ok('secret', 'create', 'from-yaml', '--values=@values.yaml');
    expect((await abus(['secret', 'create', 'from-stdin', '--values=@-'], `token: ${canary('stdin')}\n`)).code).toBe(0);
    await ok('secret', 'create', 'inline', `--values={"token": "${canary('inline')}"}`);
    await ok('secret', 'update', 's3-creds', `--note=${canary('update-flag')}`, `--dropped=${canary('removed')}`);
    await ok('secret', 'update', 's3-creds', '--values=@update.yaml', '--remove-keys=dropped', '-o', 'json');
    await ok('secret', 'describe', 's3-creds');
    await ok('secret', 'describe', 's3-creds', '-o', 'json');
    await ok('secret', 'list');
    await ok('secret', 'list', '-o', 'json');
    keep(await client.secrets.describe('s3-creds'));
    keep(await client.secrets.list());

    // Every refusal, each with a value in it.
    await refused(['secret', 'create', 's3-creds', `--note=${canary('duplicate')}`]);
    await refused(['secret', 'create', 'bad', '--values=@bad.yaml']);
    await refused(['secret', 'create', 'stray', `note=${canary('stray')}`]);
    await refused(['secret', 'create', 'bad-key', `--not-a-key=${canary('bad-key')}`]);
    await refused(['secret', 'update', 'nowhere', `--note=${canary('unknown-secret')}`]);
    await refused(['secret', 'create', 'oversized', '--values=@-'], `token: ${oversized}\n`);
    await refused(['secret', 'update', 's3-creds', '--remove-keys=aws_access_key_id,aws_secret_access_key,note,extra']);

    // The secret at work: a store that uses it, deployed, written and read by a transfer worker.
    await ok('artifact-store', 'register', 'leaky', '-f', 's3', `--path=s3://${bucket}/team`, '--authentication_secret=s3-creds', `--client_kwargs={"endpoint_url": "${endpoint}"}`);
    await refused(['secret', 'delete', 's3-creds']);
    await ok('artifact-store', 'deploy', 'leaky');
    await ok('artifact', 'upload', './artifact.bin', 'leaky:models/a.bin', '-q');
    await ok('artifact', 'download', 'leaky:models/a.bin', './copy.bin', '-q');
    await ok('artifact-store', 'update', 'leaky', '--authentication_secret=from-json');
    await refused(['artifact', 'upload', './artifact.bin', 'leaky:models/b.bin', '-q']);
    await ok('artifact-store', 'update', 'leaky', '--authentication_secret=s3-creds');
    await ok('artifact-store', 'describe', 'leaky', '-o', 'json');

    // Key rotation: the new key alone opens nothing yet...
    await stopService(registry);
    registry = await startRegistry({ ABUS_SECRET_KEY: keyB });
    rotation.unreadable = await abus(['secret', 'rotate-key']);
    await refused(['artifact', 'upload', './artifact.bin', 'leaky:models/c.bin', '-q']);
    await refused(['secret', 'update', 's3-creds', `--note=${canary('update-flag')}`]);
    // ...with the old key as a previous one, rotate-key re-seals everything under the new key...
    await stopService(registry);
    registry = await startRegistry({ ABUS_SECRET_KEY: keyB, ABUS_SECRET_KEYS_PREVIOUS: keyA });
    rotation.resealed = await abus(['secret', 'rotate-key', '-o', 'json']);
    rotation.again = await abus(['secret', 'rotate-key']);
    // ...and the old key can go.
    await stopService(registry);
    registry = await startRegistry({ ABUS_SECRET_KEY: keyB });
    rotation.uploadWithoutOldKey = await abus(['artifact', 'upload', './artifact.bin', 'leaky:models/d.bin', '-q']);
    keep(await client.secrets.rotateKey());

    for (const name of ['from-json', 'from-yaml', 'from-stdin', 'inline']) await ok('secret', 'delete', name);
    await ok('audit', 'query', '--kind', 'registry', '-o', 'json');
    await ok('audit', 'query', '--kind', 'registry');
    await ok('audit', 'query', '-o', 'json');
    await auditCaughtUp(nats.url);
    keep(await client.audit.queryRegistry({ limit: 10_000 }));
    keep(await client.audit.query({ limit: 10_000 }));
    await stopService(registry);
  }, 600_000);

  afterAll(async () => {
    await client?.close();
    for (const service of services) if (service.child.exitCode === null) service.child.kill('SIGKILL');
    await nats?.stop();
    await database?.drop();
    await work?.remove();
  });

  /** Which canaries occur in `text`. */
  const leaked = (text: string) => [...canaries, oversized.slice(0, 64)].filter((value) => text.includes(value));

  it('were used: the store opened with its secret and s3 took the upload', () => {
    // Uploads: with the secret; with a secret without AWS keys (ACCESS_DENIED); while no key opened it (INTERNAL); after the rotation.
    expect(cli.filter((r) => r.args[0] === 'artifact' && r.args[1] === 'upload').map((r) => r.code)).toEqual([0, 7, 1, 0]);
  });

  it('rotate the key: a secret no key opens is named, rotate-key re-seals every secret, and the old key can be dropped', () => {
    expect(rotation.unreadable).toMatchObject({ code: 1, stderr: expect.stringMatching(/^re-sealed 0 secret\(s\) under key [0-9a-f]{12}; 0 already were\nerror: no configured key opens from-json, from-stdin, from-yaml, inline, s3-creds:/) });
    const resealed = JSON.parse(rotation.resealed?.stdout ?? '{}');
    expect(resealed).toEqual({ keyId: expect.stringMatching(/^[0-9a-f]{12}$/), resealed: 5, unchanged: 0, unreadable: [] });
    expect(rotation.again).toMatchObject({ code: 0, stderr: `re-sealed 0 secret(s) under key ${resealed.keyId}; 5 already were\n` });
    expect(rotation.uploadWithoutOldKey).toMatchObject({ code: 0 });
  });

  it('never appear in CLI output', () => {
    expect(cli.length).toBeGreaterThanOrEqual(40);
    expect(cli.filter((r) => leaked(r.stdout + r.stderr).length > 0).map((r) => r.args.slice(0, 3))).toEqual([]);
    expect(cli.some((r) => r.stdout.includes('aws_secret_access_key'))).toBe(true);
  });

  it('never appear in a registry reply', () => {
    expect(replies.filter((text) => leaked(text).length > 0)).toEqual([]);
  });

  it('never appear in an event', async () => {
    const events = await readEventsStream(nats.url);
    expect(events.filter((m) => m.subject.startsWith('abus.events.registry.secret.')).length).toBeGreaterThan(10);
    expect(events.filter((m) => leaked(m.text).length > 0).map((m) => m.subject)).toEqual([]);
  });

  it('never appear in an audit row', async () => {
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const registryRows = (await db.query('SELECT * FROM audit.registry_events')).rows;
      const artifactRows = (await db.query('SELECT * FROM audit.events')).rows;
      expect(registryRows.length).toBeGreaterThan(20);
      expect(artifactRows.length).toBeGreaterThan(5);
      expect([...registryRows, ...artifactRows].filter((row) => leaked(JSON.stringify(row)).length > 0)).toEqual([]);
      // Sealed at rest, all under the new key.
      const secrets = (await db.query('SELECT name, sealed FROM registry.secrets')).rows as { name: string; sealed: string }[];
      expect(secrets.map((s) => s.name)).toEqual(['s3-creds']);
      expect(secrets.filter((row) => leaked(JSON.stringify(row)).length > 0)).toEqual([]);
      expect(secrets.map((s) => s.sealed.split('.')[1])).toEqual([JSON.parse(rotation.resealed?.stdout ?? '{}').keyId]);
    } finally {
      await db.end();
    }
  });

  it('never appear in the logs of any service', () => {
    expect(services.map((s) => s.name).sort()).toEqual(['audit', 'registry', 'registry', 'registry', 'registry', 'transfer']);
    const registryLog = services.filter((s) => s.name === 'registry').map((s) => s.output).join('');
    // The logs were captured, at trace level, and speak of the secrets by name and keys.
    expect(registryLog).toContain('"msg":"secret updated"');
    expect(registryLog).toContain('"msg":"secrets re-sealed under the current key"');
    expect(services.find((s) => s.name === 'transfer')?.output).toContain('"msg":"upload completed"');
    for (const service of services) expect({ service: service.name, leaked: leaked(service.output) }).toEqual({ service: service.name, leaked: [] });
  });
});
