import { describe, expect, it } from 'vitest';
import { AbusError } from './errors.ts';
import { ArtifactKey, ArtifactPrefix, assertValidKey, MAX_KEY_BYTES, parseStoreKey, ResourceName } from './keys.ts';
import { parseMessage } from './rpc.ts';

function codeOf(action: () => void): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return (error as AbusError).code;
  }
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('artifact keys', () => {
  it.each([
    'model.bin',
    'runs/42/model.onnx',
    'with space/and more spaces.txt',
    'ünïcødé/日本語/✓.bin',
    '.hidden',
    'a..b/c...d',
    'k'.repeat(MAX_KEY_BYTES),
  ])('accepts %j', (key) => {
    expect(codeOf(() => assertValidKey(key))).toBeUndefined();
    expect(ArtifactKey.safeParse(key).success).toBe(true);
  });

  it.each([
    ['an empty key', '', 'INVALID_KEY'],
    ['a NUL byte', 'a\u0000b', 'INVALID_KEY'],
    ['a newline', 'a\nb', 'INVALID_KEY'],
    ['a DEL character', 'a\u007fb', 'INVALID_KEY'],
    ['more than 1024 bytes', 'k'.repeat(MAX_KEY_BYTES + 1), 'INVALID_KEY'],
    ['more than 1024 bytes of UTF-8 in fewer characters', 'é'.repeat(513), 'INVALID_KEY'],
    ['a trailing slash', 'models/', 'INVALID_KEY'],
    ['an empty segment', 'models//x', 'INVALID_KEY'],
    ['a "." segment', 'models/./x', 'INVALID_KEY'],
    ['the reserved .abus/ folder', '.abus/meta/x.json', 'INVALID_KEY'],
    ['the reserved .abus name itself', '.abus', 'INVALID_KEY'],
    ['a ".." segment', 'models/../../etc/passwd', 'PATH_OUTSIDE_ROOT'],
    ['a leading ".."', '../x', 'PATH_OUTSIDE_ROOT'],
    ['a leading slash', '/etc/passwd', 'PATH_OUTSIDE_ROOT'],
    ['a backslash', 'models\\..\\x', 'PATH_OUTSIDE_ROOT'],
  ])('refuses %s with %s', (_, key, code) => {
    expect(codeOf(() => assertValidKey(key))).toBe(code);
  });

  it('gives a message request the same code as assertValidKey', () => {
    expect(codeOf(() => parseMessage(ArtifactKey, json('a\u0000b')))).toBe('INVALID_KEY');
    expect(codeOf(() => parseMessage(ArtifactKey, json('../x')))).toBe('PATH_OUTSIDE_ROOT');
    expect(codeOf(() => parseMessage(ArtifactKey, json(42)))).toBe('BAD_REQUEST');
  });

  it('shows control characters escaped in the message, never raw', () => {
    try {
      assertValidKey('a\u0000b');
      expect.unreachable();
    } catch (error) {
      expect((error as AbusError).message).toContain('a\\x00b');
      expect((error as AbusError).message).not.toContain('\u0000');
    }
  });
});

describe('listing prefixes', () => {
  it.each(['', 'models', 'models/', 'models/run-1/'])('accepts %j', (prefix) => {
    expect(codeOf(() => assertValidKey(prefix, 'prefix'))).toBeUndefined();
    expect(ArtifactPrefix.safeParse(prefix).success).toBe(true);
  });

  it.each([
    ['../', 'PATH_OUTSIDE_ROOT'],
    ['models/../', 'PATH_OUTSIDE_ROOT'],
    ['/models', 'PATH_OUTSIDE_ROOT'],
    ['models//', 'INVALID_KEY'],
    ['a\u0000', 'INVALID_KEY'],
  ])('refuses %j with %s', (prefix, code) => {
    expect(codeOf(() => assertValidKey(prefix, 'prefix'))).toBe(code);
  });
});

describe('resource names', () => {
  it.each(['default', 's3-prod', 'A_1', 'x'.repeat(63)])('accepts %j', (name) => {
    expect(ResourceName.safeParse(name).success).toBe(true);
  });

  it.each(['', '-leading', 'has space', 'dot.ted', '../up', 'x'.repeat(64), 'wild*'])('refuses %j', (name) => {
    expect(ResourceName.safeParse(name).success).toBe(false);
  });
});

describe('STORE:KEY', () => {
  it('splits a store name from its key', () => {
    expect(parseStoreKey('prod:models/a.bin')).toEqual({ store: 'prod', key: 'models/a.bin' });
  });

  it('leaves a key without a store part to the active stack', () => {
    expect(parseStoreKey('models/a.bin')).toEqual({ key: 'models/a.bin' });
  });

  it('keeps colons after the store part in the key', () => {
    expect(parseStoreKey('prod:a:b')).toEqual({ store: 'prod', key: 'a:b' });
  });
});
