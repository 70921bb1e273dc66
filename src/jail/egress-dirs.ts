// Where a run's egress proxy socket lives (issue 11): `<stateDir>/egress/<owner>-<random>/proxy.sock`.
// The directory is removed when the run's egress closes; a service or CLI killed mid-plan leaves it
// behind, so it carries the owner identity every other leftover in the state dir carries (liveness.ts)
// and JailHost.open sweeps dead owners' directories. A live owner's are kept: a CLI and a service may
// share one state dir, and the other one's run may be using its socket right now.
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isStale, ownedName } from './liveness.js';

export const EGRESS_DIR = 'egress';
export const EGRESS_SOCKET_NAME = 'proxy.sock';
/** sun_path holds 108 bytes with its NUL. */
const SOCKET_PATH_MAX_BYTES = 107;

/** A fresh per-run directory path under the state dir, named for this process (not created here). */
export function egressRunDir(stateDir: string): string {
  // 64 random bits: unique among one owner's runs, and short: the socket path must fit sun_path (107 bytes).
  return join(stateDir, EGRESS_DIR, ownedName(randomBytes(8).toString('hex')));
}

/**
 * Refuses, at start, a state directory too long for this process's socket paths: every run's path has the
 * same length (this process's owner name never changes), so a path that fits once fits always, and one that
 * does not would fail every egress plan at its first call instead of at start.
 */
export function checkEgressSocketRoom(stateDir: string): void {
  const longest = join(egressRunDir(stateDir), EGRESS_SOCKET_NAME);
  const over = Buffer.byteLength(longest) - SOCKET_PATH_MAX_BYTES;
  if (over > 0) {
    throw new Error(`CONFINE_STATE_DIR ${stateDir} is ${over} bytes too long for the egress proxy's unix socket paths (at most ${SOCKET_PATH_MAX_BYTES} bytes, e.g. ${longest}); use a shorter state directory or TF_EGRESS=off`);
  }
}

/** Removes per-run egress directories whose owner is gone; returns their names. */
export async function sweepEgressDirs(stateDir: string): Promise<string[]> {
  const root = join(stateDir, EGRESS_DIR);
  const removed: string[] = [];
  for (const name of await namesIn(root)) {
    if (!isStale(name)) continue; // a live owner's, or a name this service never makes
    await rm(join(root, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

async function namesIn(root: string): Promise<string[]> {
  try {
    return await readdir(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
