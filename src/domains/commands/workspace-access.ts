// Why a jail could not start in a session workspace, when the tenant is the reason. A request in a
// session may `chmod 000 .` (or a directory it later names as cwd); bubblewrap, running as the
// workspace's uid, then cannot enter it and every later request failed as an internal error. After such
// a setup failure the host looks (lstat only, never following a link, never changing anything) at the
// directories the jail must enter, and names the one its uid cannot search.
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { DomainError } from '../errors.js';

/** The search (x) bit that applies to `uid` for a file owned by `owner`. */
function searchable(mode: number, owner: number, uid: number): boolean {
  return (mode & (owner === uid ? 0o100 : 0o001)) !== 0;
}

/**
 * A validation_error when the workspace root, or a directory on the way to `cwdSegments`, cannot be
 * searched by the workspace's uid; undefined when access is not the problem.
 */
export async function workspaceAccessError(hostPath: string, uid: number, cwdSegments: readonly string[]): Promise<DomainError | undefined> {
  let dir = hostPath;
  for (const name of ['', ...cwdSegments]) {
    dir = name === '' ? dir : join(dir, name);
    const stat = await lstat(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
      throw error;
    });
    if (stat === undefined || !stat.isDirectory()) return undefined; // not a permission problem
    if (searchable(stat.mode, stat.uid, uid)) continue;
    const mode = (stat.mode & 0o777).toString(8).padStart(3, '0');
    if (name === '') {
      return new DomainError(
        'validation_error',
        `the session workspace is not accessible to its own jails (mode ${mode}): a previous request in this session removed its permissions. ` +
          'No jail can start in it any more; delete the session and open a new one',
        `workspace mode ${mode}`,
      );
    }
    const relative = dir.slice(hostPath.length + 1);
    return new DomainError(
      'validation_error',
      `directory ${JSON.stringify(relative)} in the session workspace is not accessible to its own jails (mode ${mode}): ` +
        'a previous request removed its permissions; run from another directory (e.g. chmod u+rwx it first)',
      relative,
    );
  }
  return undefined;
}
