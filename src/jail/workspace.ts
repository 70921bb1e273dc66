// Workspaces are per-run tmpfs mounts on the host: the kernel enforces their size and inode count, a
// tenant cannot fill the host's disk, and cleanup is an unmount. Each is owned by its own sandbox uid.
// The mount holds two directories, bound into the jail as the workspace and as /tmp, so both share one
// quota and both are noexec: an uploaded or copied binary cannot be run, not even through ld.so.
import { randomBytes } from 'node:crypto';
import { lchownSync, mkdirSync } from 'node:fs';
import { lchown, mkdir, open, rm, rmdir } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { readdirIfExists } from './cgroup/fsutil.js';
import { MOUNT_FLAGS } from './agent/client.js';
import type { IdentityLease, IdentityPool } from './identity.js';
import { isStale, ownedName } from './liveness.js';

export interface WorkspaceOptions {
  sizeBytes: number;
  maxInodes: number;
}

export interface SeedFile {
  /** Relative path, already validated by the domain's intake (no '..', no absolute paths). */
  path: string;
  content: Buffer | string;
  mode?: number;
}

export interface Workspace {
  readonly id: string;
  /** The tenant's files; the jail sees this directory as its workspace. */
  readonly hostPath: string;
  /** The jail's /tmp. */
  readonly tmpPath: string;
  readonly identity: IdentityLease;
  /**
   * Writes files into a workspace no jail has touched yet. Once a jail has run, the tenant may have
   * planted links, and host code must not write there as root (Judge0 CVE-2024-28185).
   */
  seed(files: readonly SeedFile[]): Promise<void>;
  markUsed(): void;
  dispose(): Promise<void>;
}

/** Mounts and unmounts on the host (the jail agent: mount(2) without an exec of mount(8)). */
export interface Mounter {
  mountTmpfs(target: string, options: string, flags: number): Promise<void>;
  unmount(target: string): Promise<void>;
}

export class WorkspaceManager {
  private readonly root: string;

  /** Ready workspaces (never used by a jail), keyed by size and inode count. */
  private readonly pool = new Map<string, Promise<Workspace>[]>();
  private readonly shapes = new Map<string, WorkspaceOptions>();

  constructor(
    stateDir: string,
    private readonly identities: IdentityPool,
    private readonly mounter: Mounter,
    private readonly poolSize = 0,
  ) {
    this.root = join(stateDir, 'workspaces');
  }

  /** A fresh workspace: from the pool when one of this shape is ready, else mounted now. */
  async create(options: WorkspaceOptions): Promise<Workspace> {
    if (this.poolSize === 0) return this.mount(options);
    const key = `${options.sizeBytes}:${options.maxInodes}`;
    if (!this.pool.has(key)) this.pool.set(key, []);
    this.shapes.set(key, options);
    return this.pool.get(key)!.shift() ?? this.mount(options);
  }

  /**
   * Tops the pool up for every shape asked for so far. Called after a run, not inside create(): the
   * mount is then off the path of the run that asked for the shape.
   */
  refill(): void {
    for (const [key, options] of this.shapes) {
      const ready = this.pool.get(key)!;
      while (ready.length < this.poolSize) {
        const pending = this.mount(options);
        // A failed refill leaves the pool (and is retried on the next refill); a taker sees the error.
        pending.catch(() => {
          const index = ready.indexOf(pending);
          if (index >= 0) ready.splice(index, 1);
        });
        ready.push(pending);
      }
    }
  }

  /** Ids of pooled workspaces (ready, never used): not leftovers of any run. */
  async pooled(): Promise<string[]> {
    const all = await Promise.allSettled([...this.pool.values()].flat());
    return all.flatMap((r) => (r.status === 'fulfilled' ? [r.value.id] : []));
  }

  /** Resolves once every pooled workspace is mounted. */
  async poolReady(): Promise<void> {
    await Promise.allSettled([...this.pool.values()].flat());
  }

  /** Unmounts every pooled workspace (at shutdown). */
  async drainPool(): Promise<void> {
    const pending = [...this.pool.values()].flat();
    this.pool.clear();
    const all = await Promise.allSettled(pending);
    await Promise.all(all.map((r) => (r.status === 'fulfilled' ? r.value.dispose() : undefined)));
  }

  private async mount(options: WorkspaceOptions): Promise<Workspace> {
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    const identity = await this.identities.lease();
    const id = ownedName(randomBytes(8).toString('hex'));
    const mountPath = join(this.root, id);
    const hostPath = join(mountPath, 'workspace');
    const tmpPath = join(mountPath, 'tmp');
    try {
      await mkdir(mountPath, { mode: 0o700 }); // on the state directory's disk: may wait
      await this.mounter.mountTmpfs(
        mountPath,
        `size=${options.sizeBytes},nr_inodes=${options.maxInodes},mode=0700,uid=${identity.uid},gid=${identity.gid}`,
        MOUNT_FLAGS.nosuid | MOUNT_FLAGS.nodev | MOUNT_FLAGS.noexec,
      );
      // Synchronous: the fresh tmpfs is memory, and these are four microsecond calls on every run.
      for (const dir of [hostPath, tmpPath]) {
        mkdirSync(dir, { mode: dir === tmpPath ? 0o1777 : 0o755 });
        lchownSync(dir, identity.uid, identity.gid);
      }
    } catch (error) {
      await unmountAndRemove(this.mounter, mountPath);
      await identity.release();
      throw error;
    }
    let used = false;
    let disposed = false;
    const mounter = this.mounter;
    return {
      id,
      hostPath,
      tmpPath,
      identity,
      async seed(files) {
        if (used) throw new Error('workspace: cannot seed a workspace a jail has already used');
        for (const file of files) {
          const target = normalize(join(hostPath, file.path));
          if (!target.startsWith(hostPath + sep)) throw new Error(`workspace: path escapes workspace: ${file.path}`);
          await mkdirOwned(hostPath, dirname(target), identity.uid, identity.gid);
          const handle = await open(target, 'wx', file.mode ?? 0o644); // O_EXCL: never through an existing link
          await handle.writeFile(file.content);
          await handle.close();
          await lchown(target, identity.uid, identity.gid);
        }
      },
      markUsed() {
        used = true;
      },
      async dispose() {
        if (disposed) return;
        disposed = true;
        await unmountAndRemove(mounter, mountPath);
        await identity.release();
      },
    };
  }

  /** Unmounts and removes workspaces whose owner process is gone. */
  async sweep(): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await readdirIfExists(this.root)) {
      if (!isStale(name)) continue;
      await unmountAndRemove(this.mounter, join(this.root, name));
      removed.push(name);
    }
    return removed;
  }
}

async function mkdirOwned(root: string, dir: string, uid: number, gid: number): Promise<void> {
  if (dir === root) return;
  await mkdirOwned(root, dirname(dir), uid, gid);
  try {
    await mkdir(dir, { mode: 0o755 });
    await lchown(dir, uid, gid);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

async function unmountAndRemove(mounter: Mounter, mountPath: string): Promise<void> {
  // Everything in the workspace lives in the tmpfs: unmounting discards it without walking tenant files.
  await mounter.unmount(mountPath);
  try {
    await rmdir(mountPath); // the mount point, empty once unmounted
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    await rm(mountPath, { recursive: true, force: true }); // a partial leftover that was never mounted
  }
}
