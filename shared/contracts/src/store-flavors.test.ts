import { describe, expect, it } from 'vitest';
import type { AbusError } from './errors.ts';
import { objectUri, parseStorePath, validateStoreDefinition, type StoreDefinition } from './store-flavors.ts';

function failure(action: () => unknown): AbusError | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return error as AbusError;
  }
}

describe('s3 store paths', () => {
  it.each([
    ['s3://bucket', { bucket: 'bucket', prefix: '' }],
    ['s3://my-bucket.v2/', { bucket: 'my-bucket.v2', prefix: '' }],
    ['s3://bucket/artifacts', { bucket: 'bucket', prefix: 'artifacts' }],
    ['s3://bucket/team/artifacts/', { bucket: 'bucket', prefix: 'team/artifacts' }],
  ])('parses %s', (value, expected) => {
    expect(parseStorePath('s3', value)).toEqual({ flavor: 's3', ...expected });
  });

  it.each([
    ['no scheme', 'bucket/prefix'],
    ['another scheme', 'gs://bucket'],
    ['no bucket', 's3://'],
    ['an upper-case bucket', 's3://Bucket'],
    ['a bucket of two characters', 's3://ab'],
    ['a bucket of 64 characters', `s3://${'b'.repeat(64)}`],
    ['a bucket with ".."', 's3://my..bucket'],
    ['a bucket with "_"', 's3://my_bucket'],
    ['a ".." segment in the prefix', 's3://bucket/a/../b'],
    ['an empty segment in the prefix', 's3://bucket/a//b'],
  ])('refuses %s with INVALID_STORE_PATH', (_, value) => {
    expect(failure(() => parseStorePath('s3', value))?.code).toBe('INVALID_STORE_PATH');
  });
});

describe('local store paths', () => {
  it.each([
    ['/srv/artifacts', '/srv/artifacts'],
    ['/srv/artifacts/', '/srv/artifacts'],
    ['file:///srv/artifacts', '/srv/artifacts'],
    ['file:///srv/with%20space', '/srv/with space'],
  ])('parses %s', (value, directory) => {
    expect(parseStorePath('local', value)).toEqual({ flavor: 'local', directory });
  });

  it.each([
    ['a relative path', 'artifacts'],
    ['a relative file URI', 'file://artifacts'],
    ['a ".." segment', '/srv/../etc'],
    ['an encoded ".." segment', 'file:///srv/%2E%2E/etc'],
  ])('refuses %s with INVALID_STORE_PATH', (_, value) => {
    expect(failure(() => parseStorePath('local', value))?.code).toBe('INVALID_STORE_PATH');
  });
});

describe('object URIs', () => {
  it('joins the bucket, the prefix and the key for s3', () => {
    expect(objectUri({ flavor: 's3', bucket: 'b', prefix: 'p/q' }, 'k/x.bin')).toBe('s3://b/p/q/k/x.bin');
    expect(objectUri({ flavor: 's3', bucket: 'b', prefix: '' }, 'x.bin')).toBe('s3://b/x.bin');
  });

  it('is a file URI for local', () => {
    expect(objectUri({ flavor: 'local', directory: '/srv/a' }, 'k/x.bin')).toBe('file:///srv/a/k/x.bin');
  });
});

describe('store options', () => {
  const s3 = (options: Partial<StoreDefinition>): StoreDefinition => ({ flavor: 's3', path: 's3://bucket', ...options });

  it('accepts the boto-style options that have an AWS SDK equivalent', () => {
    const definition = s3({
      clientKwargs: { endpoint_url: 'http://127.0.0.1:9000', region_name: 'eu-west-1', verify: false },
      configKwargs: { s3: { addressing_style: 'path' }, retries: { max_attempts: 3, mode: 'standard' }, connect_timeout: 5, request_checksum_calculation: 'when_required' },
      s3AdditionalKwargs: { ServerSideEncryption: 'AES256', ACL: 'private' },
    });
    expect(validateStoreDefinition(definition)).toEqual(definition);
  });

  it.each([
    ['client_kwargs', s3({ clientKwargs: { aws_secret_access_key: 'x' } }), 'aws_secret_access_key'],
    ['config_kwargs', s3({ configKwargs: { signature_version: 's3v4' } }), 'signature_version'],
    ['config_kwargs.s3', s3({ configKwargs: { s3: { use_accelerate_endpoint: true } } }), 'use_accelerate_endpoint'],
    ['s3_additional_kwargs', s3({ s3AdditionalKwargs: { Tagging: 'a=b' } }), 'Tagging'],
  ])('refuses an unknown option in %s with INVALID_STORE_OPTION, naming it', (_, definition, option) => {
    const error = failure(() => validateStoreDefinition(definition));
    expect(error?.code).toBe('INVALID_STORE_OPTION');
    expect(error?.message).toContain(`"${option}"`);
  });

  it('refuses a value of the wrong kind with INVALID_STORE_OPTION', () => {
    expect(failure(() => validateStoreDefinition(s3({ clientKwargs: { endpoint_url: 'ftp://host' } })))?.code).toBe('INVALID_STORE_OPTION');
    expect(failure(() => validateStoreDefinition(s3({ configKwargs: { retries: { max_attempts: 0 } } })))?.code).toBe('INVALID_STORE_OPTION');
  });

  it('never echoes an option value in its message', () => {
    const error = failure(() => validateStoreDefinition(s3({ clientKwargs: { endpoint_url: 'not a url but a secret-ish value' } })));
    expect(error?.code).toBe('INVALID_STORE_OPTION');
    expect(error?.message).not.toContain('secret-ish');
  });

  it('refuses s3 options on a local store', () => {
    expect(failure(() => validateStoreDefinition({ flavor: 'local', path: '/srv/a', clientKwargs: { region_name: 'x' } }))?.code).toBe('INVALID_STORE_OPTION');
  });

  it('accepts empty option objects on a local store', () => {
    expect(failure(() => validateStoreDefinition({ flavor: 'local', path: '/srv/a', clientKwargs: {} }))).toBeUndefined();
  });

  it('checks the path before the options', () => {
    expect(failure(() => validateStoreDefinition({ flavor: 'local', path: 'relative', clientKwargs: { region_name: 'x' } }))?.code).toBe('INVALID_STORE_PATH');
  });
});

describe('azure store paths', () => {
  it.each([
    ['az://models', { container: 'models', prefix: '' }],
    ['az://models/team/a', { container: 'models', prefix: 'team/a' }],
    ['abfs://models/team', { container: 'models', prefix: 'team' }],
    ['abfss://models/team', { container: 'models', prefix: 'team' }],
    ['abfs://models@prodacct.dfs.core.windows.net/team', { container: 'models', prefix: 'team', account: 'prodacct' }],
    ['abfs://models@prodacct.dfs.core.windows.net', { container: 'models', prefix: '', account: 'prodacct' }],
  ])('parses %s', (value, expected) => {
    expect(parseStorePath('azure', value)).toEqual({ flavor: 'azure', ...expected });
  });

  it.each([
    ['s3://models', 'expected az://container'],
    ['az://Models', 'not a valid container name'],
    ['az://ab', 'not a valid container name'],
    ['az://bad--name', 'not a valid container name'],
    ['az://models@acct.dfs.core.windows.net', 'after abfs://'],
    ['abfs://models@not a host/x', 'after abfs://'],
    ['az://models/../x', '".." segments'],
  ])('refuses %s', (value, why) => {
    expect(() => parseStorePath('azure', value)).toThrow(expect.objectContaining({ code: 'INVALID_STORE_PATH', message: expect.stringContaining(why) }));
  });

  it('names azure objects with az:// URIs', () => {
    expect(objectUri({ flavor: 'azure', container: 'models', prefix: 'team' }, 'a b/c.bin')).toBe('az://models/team/a b/c.bin');
  });

  it('takes account_url and account_name in client_kwargs, and refuses anything else by name', () => {
    expect(() => validateStoreDefinition({ flavor: 'azure', path: 'az://models', clientKwargs: { account_url: 'http://127.0.0.1:10000/devstoreaccount1', account_name: 'devstoreaccount1' } })).not.toThrow();
    expect(() => validateStoreDefinition({ flavor: 'azure', path: 'az://models', clientKwargs: { endpoint_url: 'http://x' } })).toThrow(
      expect.objectContaining({ code: 'INVALID_STORE_OPTION', message: expect.stringContaining('"endpoint_url"') }),
    );
    expect(() => validateStoreDefinition({ flavor: 'azure', path: 'az://models', configKwargs: { s3: {} } })).toThrow(expect.objectContaining({ code: 'INVALID_STORE_OPTION' }));
  });
});
