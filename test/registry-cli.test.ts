import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactBusClient } from '@artifact-bus/client';
import { callEndpoint, endpoints } from '@artifact-bus/contracts';
import { eventually, startTestStack, type TestStack } from './harness/index.ts';

const root = path.resolve(import.meta.dirname, '..');
const abusBin = path.join(root, 'shared/client/bin/abus.js');

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The control-plane commands as a user types them, against a stack in this process: each
 * `abus` is a process of its own, configured by environment only.
 */
describe('abus CLI for stores, secrets and stacks', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;
  let work: string;

  async function abus(args: string[], stdin?: string): Promise<CliRun> {
    const child = spawn(process.execPath, [abusBin, ...args], {
      cwd: work,
      env: { ...process.env, NATS_URL: stack.nats.url, ABUS_REQUESTER: 'cli-user' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    child.stdin.end(stdin ?? '');
    const [code] = (await once(child, 'exit')) as [number];
    return { code, stdout, stderr };
  }

  /** Runs a command that must succeed and parses its JSON output. */
  async function json<T = Record<string, unknown>>(...args: string[]): Promise<T> {
    const run = await abus([...args, '-o', 'json']);
    expect({ args, code: run.code, stderr: run.stderr }).toEqual({ args, code: 0, stderr: '' });
    return JSON.parse(run.stdout) as T;
  }

  beforeAll(async () => {
    stack = await startTestStack();
    client = await stack.client();
    work = path.join(stack.dataDir, 'cli');
    await mkdir(work, { recursive: true });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  describe('abus artifact-store', () => {
    it('update replaces what it is given: a path, options, {} to remove one, and the secret', async () => {
      await json('secret', 'create', 'cli-keys', '--aws_access_key_id=a', '--aws_secret_access_key=b');
      await json('artifact-store', 'register', 'cli-s3', '-f', 's3', '--path=s3://cli-bucket', '--client_kwargs={"region_name": "us-east-1"}', '--config_kwargs={"retries": {"max_attempts": 3}}');

      const updated = await json('artifact-store', 'update', 'cli-s3', '--path=s3://cli-bucket/team', '--authentication_secret=cli-keys', '--config_kwargs={}');
      expect(updated).toMatchObject({ name: 'cli-s3', path: 's3://cli-bucket/team', authenticationSecret: 'cli-keys', clientKwargs: { region_name: 'us-east-1' } });
      expect(updated.configKwargs).toBeUndefined();

      const unsecured = await json('artifact-store', 'update', 'cli-s3', '--remove-authentication-secret');
      expect(unsecured.authenticationSecret).toBeUndefined();
      const table = await abus(['artifact-store', 'describe', 'cli-s3']);
      expect(table.stdout).toMatch(/path\s+│\s+s3:\/\/cli-bucket\/team/);
    });

    it.each([
      ['JSON that does not parse', ['--client_kwargs={"region_name": '], 'INVALID_STORE_OPTION: --client_kwargs is not valid JSON'],
      ['JSON that is not an object', ['--s3_additional_kwargs=[1]'], 'INVALID_STORE_OPTION: --s3_additional_kwargs must be a JSON object'],
      ['an unknown option', ['--client_kwargs={"aws_access_key_id": "x"}'], 'client_kwargs: unknown option "aws_access_key_id" (no s3 equivalent)'],
      ['a bad path', ['--path=s3://Upper_Case'], 'INVALID_STORE_PATH: invalid s3 path "s3://Upper_Case": "Upper_Case" is not a valid bucket name'],
      ['a flag update does not take', ['--flavor=azure'], "unknown option '--flavor=azure'"],
      ['a secret set and removed at once', ['--authentication_secret=cli-keys', '--remove-authentication-secret'], 'cannot be used with'],
      ['no change at all', [], 'BAD_REQUEST: nothing to update'],
    ])('update refuses %s with exit status 2 and says which and why', async (_, flags, message) => {
      const run = await abus(['artifact-store', 'update', 'cli-s3', ...flags]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(message);
    });

    it('register refuses an unknown flavor with exit status 2, naming the flavors', async () => {
      const run = await abus(['artifact-store', 'register', 'gcs-store', '-f', 'gcs', '--path=gs://bucket']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('Allowed choices are local, s3, azure');
    });

    it('rename renames a store and its stacks follow; delete refuses while a stack uses it unless --force', async () => {
      await json('artifact-store', 'register', 'cli-before', '-f', 'local', `--path=${path.join(work, 'renamed')}`);
      await json('stack', 'register', 'cli-stack', '-a', 'cli-before');
      expect(await json('artifact-store', 'rename', 'cli-before', 'cli-after')).toMatchObject({ name: 'cli-after' });
      expect(await json('stack', 'describe', 'cli-stack')).toMatchObject({ artifactStore: 'cli-after' });
      expect((await abus(['artifact-store', 'describe', 'cli-before'])).code).toBe(3);

      const refused = await abus(['artifact-store', 'delete', 'cli-after']);
      expect(refused.code).toBe(5);
      expect(refused.stderr).toContain('STORE_IN_USE: artifact store "cli-after" is used by stack(s) cli-stack; delete them first or pass --force');
      expect(await abus(['artifact-store', 'delete', 'cli-after', '--force'])).toMatchObject({ code: 0, stderr: 'deleted artifact store cli-after\n' });
      expect((await abus(['stack', 'describe', 'cli-stack'])).code).toBe(3);
    });

    it('deploy creates the folder of a local store, then says it exists', async () => {
      const folder = path.join(work, 'deployed');
      await json('artifact-store', 'register', 'cli-deploy', '-f', 'local', `--path=${folder}`);
      expect(await abus(['artifact-store', 'deploy', 'cli-deploy'])).toMatchObject({ code: 0, stderr: `created file://${folder} for artifact store cli-deploy\n` });
      expect((await stat(folder)).isDirectory()).toBe(true);
      expect(await abus(['artifact-store', 'deploy', 'cli-deploy'])).toMatchObject({ code: 0, stderr: `file://${folder} already exists; nothing to do\n` });
      expect(await json('artifact-store', 'deploy', 'cli-deploy')).toEqual({ store: 'cli-deploy', flavor: 'local', resource: `file://${folder}`, created: false });
      expect((await abus(['artifact-store', 'deploy', 'nowhere'])).code).toBe(3);
    });
  });

  describe('abus secret', () => {
    it('create takes --values=@FILE in JSON or YAML, with every value kept as text', async () => {
      await writeFile(path.join(work, 'values.json'), JSON.stringify({ aws_access_key_id: 'AKIAJSON', aws_secret_access_key: 'json-secret' }));
      await writeFile(path.join(work, 'values.yaml'), 'account_name: devstoreaccount1\nsas_token: "sv=2024&sig=abc"\nport: 0123\npem: |\n  -----BEGIN KEY-----\n  abc\n');
      expect(await json('secret', 'create', 'from-json', '--values=@values.json')).toMatchObject({ keys: ['aws_access_key_id', 'aws_secret_access_key'] });
      expect(await json('secret', 'create', 'from-yaml', '--values', '@values.yaml')).toMatchObject({ keys: ['account_name', 'pem', 'port', 'sas_token'] });
      // What a transfer worker gets: the values exactly as written.
      await json('artifact-store', 'register', 'uses-yaml', '-f', 'azure', '--path=az://some-container', '--authentication_secret=from-yaml');
      const resolved = await callEndpoint(client.nc, endpoints.registry.storeResolve, { name: 'uses-yaml' });
      expect(resolved.credentials).toEqual({ account_name: 'devstoreaccount1', sas_token: 'sv=2024&sig=abc', port: '0123', pem: '-----BEGIN KEY-----\nabc\n' });
    });

    it('create reads --values=@- from standard input, and --key=value pairs win over it', async () => {
      const run = await abus(['secret', 'create', 'from-stdin', '--values=@-', '--token=from-flag', '-o', 'json'], 'token: from-stdin\nuser: me\n');
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ name: 'from-stdin', keys: ['token', 'user'] });
    });

    it.each([
      ['a file that is neither JSON nor YAML', 'bad.yaml', 'key: [unclosed bad-yaml-value-7f1e', 'BAD_REQUEST: --values: bad.yaml is neither valid JSON nor valid YAML at line 1'],
      ['a list instead of a mapping', 'list.yaml', '- a\n- b\n', 'must hold a mapping of key: value pairs'],
      ['a value that is a mapping', 'nested.json', '{"a": {"b": "c"}}', 'the value of "a" in nested.json is a mapping; secret values are text'],
      ['a key that is no key', 'badkey.json', '{"not a key": "x"}', 'values.not a key: invalid key: secret keys are letters, digits and "_"'],
    ])('create refuses %s with exit status 2, without quoting the file', async (_, file, content, message) => {
      await writeFile(path.join(work, file), content);
      const run = await abus(['secret', 'create', 'refused', `--values=@${file}`]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(message);
      expect(run.stderr).not.toContain('bad-yaml-value-7f1e');
    });

    it('create refuses a missing file and a stray argument without echoing it', async () => {
      expect(await abus(['secret', 'create', 'refused', '--values=@missing.yaml'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--values: cannot read missing.yaml (ENOENT)') });
      const stray = await abus(['secret', 'create', 'refused', 'aws_secret_access_key=stray-value-0c4d']);
      expect(stray.code).toBe(2);
      expect(stray.stderr).toContain('expected --key=value pairs, got argument 1 without a leading "--"');
      expect(stray.stderr).not.toContain('stray-value-0c4d');
    });

    it('update merges --key=value pairs and --values, and drops --remove-keys', async () => {
      await writeFile(path.join(work, 'more.yaml'), 'region: eu\n');
      const updated = await json('secret', 'update', 'from-json', '--aws_secret_access_key=rotated', '--values=@more.yaml', '--remove-keys', 'aws_access_key_id');
      expect(updated).toMatchObject({ name: 'from-json', keys: ['aws_secret_access_key', 'region'] });
      const refused = await abus(['secret', 'update', 'from-json', '--remove-keys=nope,region']);
      expect(refused).toMatchObject({ code: 2, stderr: expect.stringContaining('secret "from-json" has no key(s) "nope" to remove') });
      expect((await abus(['secret', 'update', 'nowhere', '--a=b'])).code).toBe(3);
    });

    it('describe shows keys, dates and the stores that use it', async () => {
      expect(await json('secret', 'describe', 'from-yaml')).toEqual({
        name: 'from-yaml',
        keys: ['account_name', 'pem', 'port', 'sas_token'],
        stores: ['uses-yaml'],
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      const table = await abus(['secret', 'describe', 'from-yaml']);
      expect(table.stdout).toMatch(/stores\s+│\s+\["uses-yaml"\]/);
      expect(table.stdout).not.toContain('sv=2024');
    });

    it('list and delete; delete refuses a secret a store uses', async () => {
      expect((await json<{ name: string }[]>('secret', 'list')).map((s) => s.name)).toEqual(expect.arrayContaining(['from-json', 'from-stdin', 'from-yaml']));
      expect(await abus(['secret', 'delete', 'from-yaml'])).toMatchObject({ code: 5, stderr: expect.stringContaining('SECRET_IN_USE') });
      expect(await abus(['secret', 'delete', 'from-stdin'])).toMatchObject({ code: 0, stderr: 'deleted secret from-stdin\n' });
      expect((await abus(['secret', 'delete', 'from-stdin'])).code).toBe(3);
    });

    it('rotate-key re-seals under the current key and says how many', async () => {
      const run = await abus(['secret', 'rotate-key']);
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(/^re-sealed 0 secret\(s\) under key [0-9a-f]{12}; \d+ already were\n$/);
    });
  });

  describe('abus stack', () => {
    it('registers with --set, lists the active one marked, describes, sets and deletes', async () => {
      await json('artifact-store', 'register', 'cli-stacked', '-f', 'local', `--path=${path.join(work, 'stacked')}`);
      expect(await json('stack', 'register', 'cli-active', '-a', 'cli-stacked', '--set')).toMatchObject({ name: 'cli-active', artifactStore: 'cli-stacked', active: true });
      const list = await abus(['stack', 'list']);
      expect(list.stdout).toMatch(/│\s+\*\s+│\s+cli-active\s+│\s+cli-stacked\s+│/);
      expect(list.stdout).toMatch(/│\s+│\s+default\s+│\s+default\s+│/);
      expect(await json('stack', 'describe')).toMatchObject({ name: 'cli-active', active: true });
      expect(await abus(['stack', 'set', 'default'])).toMatchObject({ code: 0, stderr: 'active stack: default\n' });
      expect(await abus(['stack', 'delete', 'cli-active'])).toMatchObject({ code: 0, stderr: 'deleted stack cli-active\n' });
      expect(await abus(['stack', 'delete', 'default'])).toMatchObject({ code: 5, stderr: expect.stringContaining('STACK_IN_USE') });
      expect((await abus(['stack', 'set', 'nowhere'])).code).toBe(3);
    });
  });

  describe('abus audit query --kind registry', () => {
    it('shows the recorded registry changes, with the requester the CLI declared', async () => {
      const records = await eventually(
        () => json<{ type: string; name: string; previousName: string | null; requester: string | null }[]>('audit', 'query', '--kind', 'registry', '--name', 'cli-before'),
        (found) => found.length >= 2,
      );
      expect(records.map((r) => [r.type, r.name, r.previousName, r.requester])).toEqual([
        ['store.registered', 'cli-before', null, 'cli-user'],
        ['store.renamed', 'cli-after', 'cli-before', 'cli-user'],
      ]);
      const table = await abus(['audit', 'query', '--kind', 'registry', '--resource', 'store', '--type', 'store.renamed']);
      expect(table.stdout).toMatch(/store\.renamed\s+│\s+cli-before -> cli-after\s+│\s+name\s+│\s+cli-user/);
      const secrets = await json<{ type: string; changes: string[] }[]>('audit', 'query', '--kind', 'registry', '--name', 'from-json', '--type', 'secret.updated');
      expect(secrets.map((r) => r.changes)).toEqual([['aws_access_key_id', 'aws_secret_access_key', 'region']]);
    });

    it('refuses filters of the other kind with exit status 2', async () => {
      expect(await abus(['audit', 'query', '--kind', 'registry', '--store', 'default'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--store filters artifact events only') });
      expect(await abus(['audit', 'query', '--name', 'default'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--name filters registry events only') });
      expect(await abus(['audit', 'query', '--type', 'store.updated'])).toMatchObject({ code: 2, stderr: expect.stringContaining('add --kind registry') });
    });
  });
});
