// Unprivileged host identities for jails. Every live workspace holds its own uid, so rlimits counted per
// uid (RLIMIT_NPROC) and file ownership of one job never touch another's. Leases are lock files naming the
// owner (pid and start time, see liveness.ts), so several confine processes on one host (service, CLI,
// tests) never hand out the same uid, and a predecessor that had the same pid does not hold uids forever.
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno, readdirIfExists } from './cgroup/fsutil.js';
import { isOwnerAlive, SELF_OWNER } from './liveness.js';
import type { Identity } from './launcher.js';

export interface IdentityLease extends Identity {
  release(): Promise<void>;
}

export interface IdentityPoolOptions {
  stateDir: string;
  uidBase: number;
  uidCount: number;
}

export class IdentityPool {
  private readonly dir: string;
  private next = 0;
  private dirMade = false;

  constructor(private readonly options: IdentityPoolOptions) {
    this.dir = join(options.stateDir, 'identities');
  }

  async lease(): Promise<IdentityLease> {
    if (!this.dirMade) mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.dirMade = true;
    for (let attempt = 0; attempt < this.options.uidCount; attempt++) {
      const uid = this.options.uidBase + ((this.next + attempt) % this.options.uidCount);
      const lockPath = join(this.dir, String(uid));
      if (await this.tryLock(lockPath)) {
        this.next = (this.next + attempt + 1) % this.options.uidCount;
        return { uid, gid: uid, release: () => unlinkIfPresent(lockPath) };
      }
    }
    throw new Error(`no free sandbox uid in ${this.options.uidBase}..${this.options.uidBase + this.options.uidCount - 1}`);
  }

  /** Removes leases whose owner process is gone. */
  async sweep(): Promise<number> {
    let removed = 0;
    for (const name of await readdirIfExists(this.dir)) {
      const path = join(this.dir, name);
      if (!(await ownerAlive(path))) {
        await unlinkIfPresent(path);
        removed++;
      }
    }
    return removed;
  }

  private async tryLock(lockPath: string): Promise<boolean> {
    try {
      // Synchronous: a lease is taken per run, and one small local write beats two thread-pool round trips.
      writeFileSync(lockPath, SELF_OWNER, { flag: 'wx', mode: 0o600 });
      return true;
    } catch (error) {
      if (isErrno(error, 'ENOENT') && this.dirMade) {
        this.dirMade = false; // the state directory was removed under us: recreate it
        mkdirSync(this.dir, { recursive: true, mode: 0o700 });
        this.dirMade = true;
        return this.tryLock(lockPath);
      }
      if (!isErrno(error, 'EEXIST')) throw error;
      if (await ownerAlive(lockPath)) return false;
      await unlinkIfPresent(lockPath);
      return this.tryLock(lockPath);
    }
  }
}

async function ownerAlive(lockPath: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(lockPath, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false; // released meanwhile
    throw error;
  }
  // An empty file is a lease being written right now.
  return text === '' || isOwnerAlive(text.trim());
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    unlinkSync(path);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
}
