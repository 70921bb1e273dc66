// Artifacts in a local directory (the default): <root>/<tenant namespace>/<key>. Writes go to a temp file
// in <root>/.tmp (named <pid>-<random>, so a crashed predecessor's leftovers are recognisable) and are
// renamed into place: a reader never sees half an object. Only the service writes here (tenants never
// do), and reads refuse symlinks anyway (O_NOFOLLOW) as defence in depth. Uploads are streamed to the
// temp file (never held whole in memory); usage and expiry walk the tree (bounded by quota and TTL).
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { isStale, ownedName } from '../jail/liveness.js';
import {
  accountedBytes,
  ARTIFACT_SCHEME,
  ArtifactTooLargeError,
  capped,
  keyOfArtifactReference,
  tenantNamespace,
  validateKey,
  type ArtifactStore,
  type GetOptions,
  type ListedObject,
  type ObjectInfo,
  type StoredObject,
} from './store.js';

const TMP = '.tmp';

export class LocalArtifactStore implements ArtifactStore {
  readonly kind = 'local' as const;

  constructor(readonly root: string) {}

  async put(tenant: string, key: string, bytes: Buffer | string): Promise<string> {
    await this.writeAtomically(tenant, key, (handle) => handle.writeFile(bytes));
    return `${ARTIFACT_SCHEME}${key}`;
  }

  async putStream(tenant: string, key: string, source: AsyncIterable<Buffer>, options: { maxBytes: number }): Promise<StoredObject> {
    let bytes = 0;
    await this.writeAtomically(tenant, key, async (handle) => {
      for await (const chunk of capped(source, options.maxBytes)) {
        await handle.write(chunk);
        bytes += chunk.length;
      }
    });
    return { reference: `${ARTIFACT_SCHEME}${key}`, bytes };
  }

  async stat(tenant: string, reference: string): Promise<ObjectInfo | undefined> {
    const key = keyOfArtifactReference(reference);
    if (key === undefined) return undefined;
    try {
      const info = await lstat(this.pathOf(tenant, key));
      return info.isFile() ? { bytes: info.size, modifiedMs: info.mtimeMs } : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async open(tenant: string, reference: string): Promise<Readable | undefined> {
    const handle = await this.openObject(tenant, reference);
    if (!handle) return undefined;
    if (!(await handle.stat()).isFile()) {
      await handle.close();
      return undefined;
    }
    return handle.createReadStream(); // closes the handle when it ends or is destroyed
  }

  async usage(tenant: string): Promise<number> {
    let total = 0;
    await walk(join(this.root, tenantNamespace(tenant)), (_path, info) => {
      total += accountedBytes(info.bytes);
      return Promise.resolve();
    });
    return total;
  }

  async list(tenant: string, prefix: string): Promise<ListedObject[]> {
    const base = join(this.root, tenantNamespace(tenant));
    const listed: ListedObject[] = [];
    await walk(join(base, validateKey(prefix.replace(/\/+$/, ''))), (path, info) => {
      listed.push({ reference: `${ARTIFACT_SCHEME}${path.slice(base.length + 1)}`, ...info });
      return Promise.resolve();
    });
    return listed;
  }

  async expire(cutoffMs: number, keyPrefix = ''): Promise<number> {
    let removed = 0;
    const below = keyPrefix === '' ? '' : validateKey(keyPrefix.replace(/\/+$/, ''));
    for (const name of await listDir(this.root)) {
      if (name === TMP) continue; // temp files belong to live writers (or to sweep())
      await walk(join(this.root, name, below), async (path, info) => {
        if (info.modifiedMs >= cutoffMs) return;
        await rm(path, { force: true });
        removed++;
      });
    }
    return removed;
  }

  async get(tenant: string, reference: string, options: GetOptions = {}): Promise<Buffer | undefined> {
    const handle = await this.openObject(tenant, reference);
    if (!handle) return undefined;
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) return undefined;
      if (options.maxBytes !== undefined && stat.size > options.maxBytes) throw new ArtifactTooLargeError(options.maxBytes);
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  async delete(tenant: string, reference: string): Promise<boolean> {
    const key = keyOfArtifactReference(reference);
    if (key === undefined) return false;
    try {
      await unlink(this.pathOf(tenant, key));
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  async sweep(): Promise<number> {
    const tmpDir = join(this.root, TMP);
    let removed = 0;
    for (const name of await listDir(tmpDir)) {
      if (!isStale(name)) continue;
      await rm(join(tmpDir, name), { force: true });
      removed++;
    }
    return removed;
  }

  /** The tenant's object opened read-only, never through a link; undefined when unknown or malformed. */
  private async openObject(tenant: string, reference: string): Promise<FileHandle | undefined> {
    const key = keyOfArtifactReference(reference);
    if (key === undefined) return undefined;
    try {
      return await open(this.pathOf(tenant, key), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  private pathOf(tenant: string, key: string): string {
    return join(this.root, tenantNamespace(tenant), key);
  }

  /** Writes through a temp file in <root>/.tmp renamed into place; the temp file is gone on any failure. */
  private async writeAtomically(tenant: string, key: string, write: (handle: FileHandle) => Promise<void>): Promise<void> {
    const target = this.pathOf(tenant, validateKey(key));
    const tmpDir = join(this.root, TMP);
    await mkdir(tmpDir, { recursive: true, mode: 0o700 });
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    const tmp = join(tmpDir, ownedName(randomBytes(8).toString('hex')));
    try {
      const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        await write(handle);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, target);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }
}

async function listDir(dir: string): Promise<string[]> {
  return readdir(dir).catch((error: unknown) => (isMissing(error) ? [] : Promise.reject(error)));
}

/** Visits every regular file below dir (symlinks are not followed: only the service writes here). */
async function walk(dir: string, visit: (path: string, info: ObjectInfo) => Promise<void>): Promise<void> {
  for (const name of await listDir(dir)) {
    const path = join(dir, name);
    let info;
    try {
      info = await lstat(path);
    } catch (error) {
      if (isMissing(error)) continue; // removed meanwhile (a delete or another sweep)
      throw error;
    }
    if (info.isDirectory()) await walk(path, visit);
    else if (info.isFile()) await visit(path, { bytes: info.size, modifiedMs: info.mtimeMs });
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}
