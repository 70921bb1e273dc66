// Artifacts in a local directory (the default): <root>/<tenant namespace>/<key>. Writes go to a temp file
// in <root>/.tmp (named <pid>-<random>, so a crashed predecessor's leftovers are recognisable) and are
// renamed into place: a reader never sees half an object. Only the service writes here (tenants never
// do), and reads refuse symlinks anyway (O_NOFOLLOW) as defence in depth.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isStale } from '../jail/liveness.js';
import {
  ARTIFACT_SCHEME,
  ArtifactTooLargeError,
  keyOfArtifactReference,
  tenantNamespace,
  validateKey,
  type ArtifactStore,
  type GetOptions,
} from './store.js';

const TMP = '.tmp';

export class LocalArtifactStore implements ArtifactStore {
  readonly kind = 'local' as const;

  constructor(readonly root: string) {}

  async put(tenant: string, key: string, bytes: Buffer | string): Promise<string> {
    const target = this.pathOf(tenant, validateKey(key));
    const tmpDir = join(this.root, TMP);
    await mkdir(tmpDir, { recursive: true, mode: 0o700 });
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    const tmp = join(tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
    try {
      const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, target);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    return `${ARTIFACT_SCHEME}${key}`;
  }

  async get(tenant: string, reference: string, options: GetOptions = {}): Promise<Buffer | undefined> {
    const key = keyOfArtifactReference(reference);
    if (key === undefined) return undefined;
    let handle;
    try {
      handle = await open(this.pathOf(tenant, key), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
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
    for (const name of await readdir(tmpDir).catch((error: unknown) => (isMissing(error) ? [] : Promise.reject(error)))) {
      if (!isStale(name)) continue;
      await rm(join(tmpDir, name), { force: true });
      removed++;
    }
    return removed;
  }

  private pathOf(tenant: string, key: string): string {
    return join(this.root, tenantNamespace(tenant), key);
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}
