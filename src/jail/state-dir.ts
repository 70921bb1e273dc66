// The state directory must be reachable by the jails' unprivileged uids: bubblewrap runs as a jail's uid
// and binds the workspace (stateDir/workspaces/...) and the program tree (stateDir/programs/...) from
// below it, which needs search permission on every directory on the way. A state dir below a 0700
// directory (a home directory, a mkdtemp dir) started fine and then failed every run (issue 9 item 10).
// Checked at start-up (JailHost.open) and by `confine doctor`, with a message naming the directory.
import { realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isErrno } from './cgroup/fsutil.js';

export class StateDirError extends Error {
  override readonly name = 'StateDirError';
}

/** Subdirectories the jails' binds come from (checked when they exist; the service creates them 0711/0755). */
const BIND_SOURCES = ['workspaces', 'programs'];

/**
 * Throws StateDirError naming the first directory a jail uid cannot search: the state directory, any
 * directory above it, or a bind source below it. Jail uids own none of these and are in none of their
 * groups, so the "other" search bit is what applies to them.
 */
export async function checkStateDirReachable(stateDir: string): Promise<void> {
  const real = await realpath(stateDir);
  const chain: string[] = [];
  for (let dir = real; ; dir = dirname(dir)) {
    chain.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const name of BIND_SOURCES) chain.push(join(real, name));
  for (const dir of chain) {
    let mode: number;
    try {
      mode = (await stat(dir)).mode;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) continue; // a bind source not created yet: made with the right mode
      throw error;
    }
    if ((mode & 0o001) === 0) {
      const octal = (mode & 0o777).toString(8).padStart(3, '0');
      throw new StateDirError(
        `state directory ${stateDir} is not reachable by the jails' unprivileged uids: ${dir} has mode ${octal} ` +
          `(no search permission for others), so no jail could bind its workspace. ` +
          `Fix: chmod o+x ${dir}, or set CONFINE_STATE_DIR to a directory whose every parent is searchable (e.g. /var/lib/confine)`,
      );
    }
  }
}
