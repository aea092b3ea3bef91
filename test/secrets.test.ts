import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ArtifactBusClient } from '@artifact-bus/client';
import {
  auditCaughtUp,
  auditRecordOf,
  collect,
  createTestBucket,
  readEventsStream,
  S3RVER_CREDENTIALS,
  s3StoreDefinition,
  startTestStack,
  streamOf,
  type TestStack,
} from './harness/index.ts';

/**
 * A secret goes into the registry and comes out only to transfer workers (storeResolve).
 * Nothing else that the stack says or keeps carries a value: not a registry reply, not an
 * error message, not an event, not an audit row.
 */
describe('secret values', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;
  const canary = `canary-${randomBytes(8).toString('hex')}`;
  const wrongValues = { aws_access_key_id: `AKIA${canary}`, aws_secret_access_key: `secret-${canary}`, aws_session_token: `token-${canary}` };
  /** Everything the stack answered, as JSON. */
  const said: string[] = [];
  const keep = <T>(value: T): T => {
    said.push(JSON.stringify(value));
    return value;
  };
  const keepError = async (action: Promise<unknown>): Promise<void> => {
    const error = await action.then(
      () => expect.unreachable('expected a refusal'),
      (e: Error & { code?: string }) => e,
    );
    said.push(JSON.stringify({ code: error.code, message: error.message }));
  };

  beforeAll(async () => {
    stack = await startTestStack();
    client = await stack.client();
    const endpoint = inject('s3Endpoint');
    const bucket = await createTestBucket(endpoint, 'secrets');

    keep(await client.secrets.create('good-s3', S3RVER_CREDENTIALS));
    keep(await client.secrets.create('wrong-s3', wrongValues));
    keep(await client.stores.register('good', s3StoreDefinition(endpoint, bucket, 'good-s3')));
    keep(await client.stores.register('wrong', s3StoreDefinition(endpoint, bucket, 'wrong-s3')));
    keep(await client.stacks.register('good', 'good'));
    keep(await client.stacks.set('good'));

    const bytes = randomBytes(6 * 1024 * 1024 + 1);
    keep(await client.upload('good', 'models/a.bin', streamOf(bytes), { requestId: 'secret-upload' }));
    keep((await client.download('good', 'models/a.bin')).info);
    expect((await collect(await client.download(undefined, 'models/a.bin'))).equals(bytes)).toBe(true);
    keep(await client.stat('good', 'models/a.bin'));
    keep(await client.list('good'));
    keep(await client.delete('good', 'models/a.bin', { requestId: 'secret-delete' }));
    await keepError(client.upload('wrong', 'models/b.bin', streamOf(bytes), { requestId: 'secret-wrong-upload' }));
    await keepError(client.download('wrong', 'models/b.bin', { requestId: 'secret-wrong-download' }));
    await keepError(client.stat('wrong', 'models/b.bin'));
    await keepError(client.list('wrong'));
    await keepError(client.delete('wrong', 'models/b.bin', { requestId: 'secret-wrong-delete' }));
    // A value pasted where an option belongs is refused without being echoed.
    await keepError(client.stores.register('pasted', { ...s3StoreDefinition(endpoint, bucket, 'wrong-s3'), clientKwargs: { endpoint_url: wrongValues.aws_secret_access_key } }));
    await keepError(client.secrets.create('wrong-s3', wrongValues));

    keep(await client.stores.list());
    keep(await client.stores.describe('good'));
    keep(await client.stores.describe('wrong'));
    keep(await client.secrets.list());
    keep(await client.stacks.list());
    keep(await client.stacks.describe());
    keep(await client.stacks.set('default'));
    keep(await client.stacks.delete('good'));
    keep(await client.stores.delete('wrong'));
    keep(await client.secrets.delete('wrong-s3'));

    await auditRecordOf(client, 'secret-delete', 'deleted');
    await auditRecordOf(client, 'secret-wrong-upload', 'failed');
    await auditCaughtUp(stack.nats.url);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const values = [...Object.values(wrongValues), S3RVER_CREDENTIALS.aws_secret_access_key];

  it('were used: the good secret opened the store and the wrong one was refused by s3', async () => {
    expect(said.some((text) => text.includes('"ACCESS_DENIED"'))).toBe(true);
    expect(said.some((text) => text.includes('"deleted":true'))).toBe(true);
  });

  it('never appear in a registry or transfer reply, nor in an error message', () => {
    expect(said.length).toBeGreaterThan(20);
    for (const value of values) expect(said.filter((text) => text.includes(value))).toEqual([]);
  });

  it('never appear in an event', async () => {
    const events = await readEventsStream(stack.nats.url);
    expect(events.length).toBeGreaterThan(10);
    for (const value of values) expect(events.filter((m) => m.text.includes(value)).map((m) => m.subject)).toEqual([]);
  });

  it('never appear in an audit row', async () => {
    const rows = await stack.auditDb.selectFrom('events').selectAll().execute();
    const records = await client.audit.query({ limit: 10_000 });
    expect(rows.length).toBeGreaterThan(10);
    expect(records.length).toBe(rows.length);
    for (const value of values) {
      expect(rows.filter((row) => JSON.stringify(row).includes(value))).toEqual([]);
      expect(records.filter((record) => JSON.stringify(record).includes(value))).toEqual([]);
    }
  });

  it('are kept sealed in the registry database', async () => {
    const rows = await stack.registryDb.selectFrom('secrets').selectAll().execute();
    expect(rows.map((r) => r.name)).toContain('good-s3');
    for (const value of values) expect(rows.filter((row) => JSON.stringify(row).includes(value))).toEqual([]);
  });
});
