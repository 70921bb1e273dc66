// A program set as one read-only directory tree, bound into the jail with a single mount.
// bubblewrap spends most of a short jail's start on mounts: each --ro-bind is a bind, a read-only remount
// and a scan of the mount table, so a shell profile of 7 programs and 6 libraries (13 binds) started at
// 230 jails/s on this host against 355/s for the same files bound as one tree (/tmp/exp floor test, P8).
// The tree holds copies made once per program set (content-addressed by the host files' identity), so the
// jail still holds exactly the set; a host package upgrade is picked up when the profile is next built
// (at the service's next start, like the ldd resolution it comes from).
import { createHash, randomBytes } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import { copyFile, chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readdirIfExists } from '../cgroup/fsutil.js';
import { isStale, ownedName } from '../liveness.js';
import { mountOf, parseMountinfo, readMountinfo } from '../mountinfo.js';
import type { Mount } from '../spec.js';
import type { ResolvedProgram } from './host-programs.js';

export const JAIL_BIN_DIR = '/usr/bin';

/** Jail path prefixes the tree can hold: everything under /usr, and /lib, /lib64 through symlinks into it. */
const LINKED_TOP_DIRS = ['lib', 'lib64'] as const;

export interface TreeFile {
  /** Path inside the tree, relative to the jail's /usr. */
  relative: string;
  hostPath: string;
}

/**
 * Mounts that show `programs` (at /usr/bin/<name>) and their libraries (where the loader expects them).
 * Files whose jail path the tree cannot hold, or that collide with another file's path, stay single binds.
 */
export async function programMounts(programs: readonly ResolvedProgram[], treesDir: string): Promise<Mount[]> {
  const files = new Map<string, TreeFile>();
  const singles: Mount[] = [];
  const place = (jailPath: string, hostPath: string): void => {
    const relative = treeRelative(jailPath);
    const existing = relative === undefined ? undefined : files.get(relative);
    if (relative !== undefined && (existing === undefined || existing.hostPath === hostPath)) {
      files.set(relative, { relative, hostPath });
    } else {
      singles.push({ kind: 'ro-bind', source: hostPath, target: jailPath });
    }
  };
  for (const program of programs) {
    place(`${JAIL_BIN_DIR}/${basename(program.name)}`, program.hostPath);
    for (const library of program.libraries) place(library.jailPath, library.hostPath);
  }
  const tree = await materialize([...files.values()], treesDir);
  // A bind mount keeps its source's noexec: a tree on such a filesystem would hold programs that cannot run.
  const options = mountOf(realpathSync(tree), parseMountinfo(await readMountinfo()))?.options ?? [];
  if (options.includes('noexec')) {
    throw new Error(`program trees live in ${treesDir}, on a filesystem mounted noexec: jails could not run their programs; put CONFINE_STATE_DIR on a filesystem that allows exec`);
  }
  const mounts: Mount[] = [{ kind: 'ro-bind', source: tree, target: '/usr' }, { kind: 'symlink', target: '/bin', linkTo: 'usr/bin' }];
  for (const top of LINKED_TOP_DIRS) {
    if ([...files.keys()].some((relative) => relative.startsWith(`${top}/`))) mounts.push({ kind: 'symlink', target: `/${top}`, linkTo: `usr/${top}` });
  }
  return [...mounts, ...singles];
}

function treeRelative(jailPath: string): string | undefined {
  if (jailPath.includes('/../') || jailPath.includes('/./')) return undefined;
  if (jailPath.startsWith('/usr/')) return jailPath.slice('/usr/'.length);
  for (const top of LINKED_TOP_DIRS) if (jailPath.startsWith(`/${top}/`)) return jailPath.slice(1);
  return undefined;
}

const BUILDING = '.building-';

/** Removes half-built trees whose builder died (complete trees stay: any service may share them). */
export async function sweepPartialTrees(treesDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdirIfExists(treesDir)) {
    if (!name.startsWith(BUILDING) || !isStale(name.slice(BUILDING.length))) continue;
    await rm(join(treesDir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * The tree's directory, built atomically unless an identical one exists already: root-owned copies that
 * any jail uid can read, in the state directory (whose reachability start-up checks), whatever the
 * permissions of the files' own location (a checkout below a 0700 home, say).
 */
export async function materialize(files: readonly TreeFile[], treesDir: string): Promise<string> {
  const sorted = [...files].sort((a, b) => a.relative.localeCompare(b.relative));
  const hash = createHash('sha256');
  for (const file of sorted) {
    const info = statSync(file.hostPath);
    hash.update(`${file.relative}\0${file.hostPath}\0${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}\n`);
  }
  const final = join(treesDir, hash.digest('hex').slice(0, 32));
  if (await isDirectory(final)) return final;
  await mkdir(treesDir, { recursive: true, mode: 0o755 });
  const building = join(treesDir, `${BUILDING}${ownedName(randomBytes(6).toString('hex'))}`);
  try {
    for (const file of sorted) {
      const target = join(building, file.relative);
      await mkdir(dirname(target), { recursive: true, mode: 0o755 });
      await copyFile(file.hostPath, target);
      await chmod(target, 0o555);
    }
    await mkdir(building, { recursive: true, mode: 0o755 });
    await chmod(building, 0o755);
    await rename(building, final);
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    // Another process built the same tree first: theirs is identical.
    if (await isDirectory(final)) return final;
    throw error;
  }
  return final;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
