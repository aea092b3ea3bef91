import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactBusClient } from '@artifact-bus/client';
import { startTestStack, streamOf, tempDir, type TestStack } from './harness/index.ts';

/** What only the local flavor has to get right: it is a folder on a disk that other programs share. */
describe('local store', () => {
  let stack: TestStack;
  let client: ArtifactBusClient;
  let outside: { path: string; remove(): Promise<void> };
  let root: string;

  beforeAll(async () => {
    stack = await startTestStack();
    client = await stack.client();
    outside = await tempDir('outside');
    root = path.join(stack.dataDir, 'artifacts');
    await writeFile(path.join(outside.path, 'secret.txt'), 'outside the store');
    await mkdir(root, { recursive: true });
    // Links planted inside the store by someone else, pointing out of it.
    await symlink(outside.path, path.join(root, 'linked-folder'));
    await symlink(path.join(outside.path, 'secret.txt'), path.join(root, 'linked-file'));
  });
  afterAll(async () => {
    await stack?.stop();
    await outside?.remove();
  });

  it('refuses to write through a folder link that leads out of its root, with PATH_OUTSIDE_ROOT', async () => {
    await expect(client.upload('default', 'linked-folder/planted.bin', streamOf(Buffer.from('x')))).rejects.toMatchObject({ code: 'PATH_OUTSIDE_ROOT' });
    await expect(readFile(path.join(outside.path, 'planted.bin'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses to read through a folder link that leads out of its root, with PATH_OUTSIDE_ROOT', async () => {
    await expect(client.stat('default', 'linked-folder/secret.txt')).rejects.toMatchObject({ code: 'PATH_OUTSIDE_ROOT' });
    await expect(client.download('default', 'linked-folder/secret.txt')).rejects.toMatchObject({ code: 'PATH_OUTSIDE_ROOT' });
  });

  it('treats a file link as no object: it is neither read, nor overwritten, nor deleted', async () => {
    await expect(client.stat('default', 'linked-file')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    await expect(client.download('default', 'linked-file')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    await expect(client.upload('default', 'linked-file', streamOf(Buffer.from('overwritten')))).rejects.toMatchObject({ code: 'INVALID_KEY' });
    expect(await client.delete('default', 'linked-file')).toMatchObject({ deleted: false });
    expect(await readFile(path.join(outside.path, 'secret.txt'), 'utf8')).toBe('outside the store');
  });

  it('lists neither links nor what they lead to', async () => {
    await client.upload('default', 'real/file.bin', streamOf(Buffer.from('real')));
    const keys: string[] = [];
    for await (const object of client.listAll('default')) keys.push(object.key);
    expect(keys).toEqual(['real/file.bin']);
  });

  it('removes the folders that a delete leaves empty', async () => {
    await client.upload('default', 'deep/er/still/file.bin', streamOf(Buffer.from('deep')));
    await client.delete('default', 'deep/er/still/file.bin');
    await expect(readFile(path.join(root, 'deep'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
