import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, realpath, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AbusError, objectUri, RESERVED_PREFIX, type LocalLocation, type ObjectInfo, type ObjectSummary } from '@artifact-bus/contracts';
import { clipRange, emptyBody, type Deployment, type ListPage, type ObjectRead, type PutOptions, type ReadRange, type StorageBackend, type VerifiedBody } from './backend.ts';

interface LocalMeta {
  sha256: string;
  sizeBytes: number;
  mtimeMs: number;
  contentType: string | null;
  metadata: Record<string, string>;
}

const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * A folder on the worker's disk. Writes go to `.abus/tmp/` and are renamed into place once the
 * body verified, so readers never see a partial file. Digest, content type and metadata live
 * in a sidecar under `.abus/meta/`, tied to the file's size and mtime.
 * Differs from object stores: a key cannot also be a folder of other keys ("a" and "a/b").
 */
export class LocalBackend implements StorageBackend {
  private rootReal: Promise<string> | undefined;

  constructor(readonly location: LocalLocation) {}

  uri(key: string): string {
    return objectUri(this.location, key);
  }

  private root(): Promise<string> {
    this.rootReal ??= mkdir(this.location.directory, { recursive: true }).then(() => realpath(this.location.directory));
    this.rootReal.catch(() => (this.rootReal = undefined));
    return this.rootReal;
  }

  /** Maps a key to a path and proves, after following symlinks, that it stays inside the root. */
  private async pathOf(root: string, key: string, base = root): Promise<string> {
    const target = path.join(base, ...key.split('/'));
    if (!target.startsWith(root + path.sep)) throw new AbusError('PATH_OUTSIDE_ROOT', `key "${key}" resolves outside the store root`);
    const parent = await realpath(path.dirname(target)).catch(() => null);
    if (parent !== null && parent !== root && !parent.startsWith(root + path.sep)) {
      throw new AbusError('PATH_OUTSIDE_ROOT', `key "${key}" resolves outside the store root through a symlink`);
    }
    return target;
  }

  private metaPath(root: string, key: string): string {
    return path.join(root, '.abus', 'meta', ...key.split('/')) + '.json';
  }

  async put(key: string, body: VerifiedBody, options: PutOptions = {}): Promise<{ sizeBytes: number; sha256: string }> {
    const root = await this.root();
    const target = await this.pathOf(root, key);
    const tmpDir = path.join(root, '.abus', 'tmp');
    await mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, randomUUID());
    const file = await open(tmp, 'wx');
    try {
      // One write at a time: the next chunk is pulled only when the disk took the last one.
      for await (const chunk of body) await file.write(chunk);
      await file.sync();
      const stats = await file.stat();
      await file.close();
      const { sizeBytes, sha256 } = body.result();
      await mkdir(path.dirname(target), { recursive: true });
      await this.pathOf(root, key); // the parent exists now: check it again, symlinks included
      const existing = await lstat(target).catch(() => null);
      if (existing && !existing.isFile()) throw new AbusError('INVALID_KEY', `key "${key}" names a folder or link in this local store`);
      const meta: LocalMeta = { sha256, sizeBytes, mtimeMs: stats.mtimeMs, contentType: options.contentType ?? null, metadata: options.metadata ?? {} };
      const metaPath = this.metaPath(root, key);
      await mkdir(path.dirname(metaPath), { recursive: true });
      await writeFile(`${tmp}.json`, JSON.stringify(meta));
      await rename(tmp, target);
      await rename(`${tmp}.json`, metaPath);
      return { sizeBytes, sha256 };
    } catch (error) {
      await file.close().catch(() => undefined);
      await rm(tmp, { force: true });
      await rm(`${tmp}.json`, { force: true });
      throw mapFsError(error, key);
    }
  }

  async stat(key: string): Promise<ObjectInfo> {
    const root = await this.root();
    const target = await this.pathOf(root, key);
    const stats = await lstat(target).catch((error) => {
      // A key below a file ("a.bin/b") names nothing, as in an object store.
      if ((error as NodeJS.ErrnoException)?.code === 'ENOTDIR') throw new AbusError('OBJECT_NOT_FOUND', `no object "${key}"`);
      throw mapFsError(error, key);
    });
    if (!stats.isFile()) throw new AbusError('OBJECT_NOT_FOUND', `no object "${key}"`);
    const meta = await readFile(this.metaPath(root, key), 'utf8')
      .then((text) => JSON.parse(text) as LocalMeta)
      .catch(() => null);
    const current = meta !== null && meta.sizeBytes === stats.size && meta.mtimeMs === stats.mtimeMs;
    return {
      key,
      sizeBytes: stats.size,
      sha256: current ? meta.sha256 : null,
      modifiedAt: stats.mtime.toISOString(),
      contentType: current ? meta.contentType : null,
      metadata: current ? meta.metadata : {},
    };
  }

  async get(key: string, range?: ReadRange): Promise<ObjectRead> {
    const object = await this.stat(key);
    const clipped = clipRange(object, range);
    const target = await this.pathOf(await this.root(), key);
    const body =
      clipped.length === 0
        ? emptyBody()
        : createReadStream(target, { start: clipped.offset, end: clipped.offset + clipped.length - 1, highWaterMark: READ_CHUNK_BYTES });
    return { object, offset: clipped.offset, sizeBytes: clipped.length, body };
  }

  async list(prefix: string, page: { pageSize: number; pageToken?: string }): Promise<ListPage> {
    const root = await this.root();
    // Start the walk at the deepest folder the prefix names; keys are then filtered and sorted.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const keys: ObjectSummary[] = [];
    const walk = async (relative: string): Promise<void> => {
      const entries = await readdir(path.join(root, ...relative.split('/').filter(Boolean)), { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const key = relative ? `${relative}/${entry.name}` : entry.name;
        if (!relative && `${entry.name}/` === RESERVED_PREFIX) continue;
        if (entry.isDirectory()) {
          if (prefix.startsWith(`${key}/`) || key.startsWith(prefix)) await walk(key);
        } else if (entry.isFile() && key.startsWith(prefix) && (page.pageToken === undefined || key > page.pageToken)) {
          const stats = await lstat(path.join(root, ...key.split('/')));
          keys.push({ key, sizeBytes: stats.size, modifiedAt: stats.mtime.toISOString() });
        }
      }
    };
    await walk(folder);
    keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const objects = keys.slice(0, page.pageSize);
    return keys.length > page.pageSize ? { objects, nextPageToken: objects.at(-1)?.key } : { objects };
  }

  async delete(key: string): Promise<boolean> {
    const root = await this.root();
    const target = await this.pathOf(root, key);
    const stats = await lstat(target).catch(() => null);
    if (!stats?.isFile()) return false;
    await rm(target, { force: true });
    await rm(this.metaPath(root, key), { force: true });
    await pruneEmptyFolders(root, path.dirname(target));
    await pruneEmptyFolders(root, path.dirname(this.metaPath(root, key)));
    return true;
  }

  async deploy(): Promise<Deployment> {
    const directory = this.location.directory;
    const resource = objectUri(this.location, '');
    const existing = await stat(directory).catch(() => null);
    if (existing && !existing.isDirectory()) throw new AbusError('BACKEND_ERROR', `${directory} exists and is not a folder`);
    if (existing) return { resource, created: false };
    try {
      await mkdir(directory, { recursive: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new AbusError('ACCESS_DENIED', `the worker may not create ${directory} (${code})`);
      throw new AbusError('BACKEND_ERROR', `cannot create ${directory} (${code ?? 'unknown error'})`, { cause: error });
    }
    return { resource, created: true };
  }

  close(): void {}
}

async function pruneEmptyFolders(root: string, folder: string): Promise<void> {
  while (folder.startsWith(root + path.sep)) {
    try {
      await rmdir(folder);
    } catch {
      return; // not empty, or already gone
    }
    folder = path.dirname(folder);
  }
}

function mapFsError(error: unknown, key: string): AbusError {
  if (error instanceof AbusError) return error;
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new AbusError('OBJECT_NOT_FOUND', `no object "${key}"`);
  // mkdir of a key's folder meets a file (EEXIST, ENOTDIR), or a file's name is a folder (EISDIR).
  if (code === 'ENOTDIR' || code === 'EISDIR' || code === 'EEXIST') return new AbusError('INVALID_KEY', `key "${key}" conflicts with a folder or file in this local store`);
  if (code === 'EACCES' || code === 'EPERM') return new AbusError('ACCESS_DENIED', `the worker may not access "${key}" in this local store`);
  if (code === 'ENOSPC') return new AbusError('BACKEND_ERROR', 'the local store is out of disk space');
  return new AbusError('BACKEND_ERROR', `local store error (${code ?? 'unknown'}) on "${key}"`, { cause: error });
}
