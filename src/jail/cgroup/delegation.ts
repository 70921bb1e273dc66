// cgroup v2 delegation: whether this process may use its own cgroup as the parent of its job groups, and
// if so, moving the service out of it first. cgroup v2's "no internal processes" rule: a non-root cgroup
// that enables controllers for its children (cgroup.subtree_control) may hold no processes itself. So every
// process of the service (node, the jail agent, a wrapper shell, a test runner's workers) moves into the
// leaf `confine-supervisor`, then the controllers are enabled and the job groups live beside it:
//   <unit>/confine-supervisor   the service's processes
//   <unit>/confine/<job>        one group per jail
// This is systemd's model for a unit with Delegate=yes (the unit's subtree is the service's to manage) and
// the same steps work in a container's private cgroup namespace. A cgroup we were NOT given (a login
// session's scope, a cgroup whose parent does not delegate the controllers, a read-only cgroupfs) is
// refused with the reason and what to do, never half-used.
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { commandOf, descendsFrom, familyHead } from './family.js';
import { isErrno, makeDirTree, pidsIn, writeText } from './fsutil.js';

export const SUPERVISOR = 'confine-supervisor';

/** What to do when the current cgroup is not ours: the same text in errors and in `confine doctor`. */
export const DELEGATION_ADVICE =
  'Run confine in a cgroup delegated to it: as the systemd service (a unit with Delegate=yes, e.g. deploy/systemd/confine.service), ' +
  'or for one CLI command: sudo systemd-run --scope -p Delegate=yes confine ...; ' +
  'in a container, give it a private cgroup namespace and a writable cgroup2 mount';

/** The current cgroup cannot host job groups; `reason` says why, `advice` what to do. */
export class CgroupDelegationError extends Error {
  override readonly name = 'CgroupDelegationError';
  constructor(readonly reason: string, readonly advice: string = DELEGATION_ADVICE) {
    super(`cgroup v2: ${reason}. ${advice}`);
  }
}

/** The v2 hierarchy's real root has no cgroup.type (the kernel omits it there); a namespace root has one. */
export function isHierarchyRoot(dir: string): boolean {
  return !existsSync(join(dir, 'cgroup.type'));
}

/**
 * systemd-logind puts each login's processes in user.slice/user-UID.slice/session-N.scope and never
 * delegates it: moving the login shell around or enabling controllers there would fight systemd.
 */
export function sessionScopeOf(cgroupPath: string): string | undefined {
  return /(^|\/)(session-[^/]+\.scope)$/.exec(cgroupPath)?.[2];
}

export function missingControllers(available: readonly string[], required: readonly string[]): string[] {
  return required.filter((c) => !available.includes(c));
}

/** The files this process must be able to write to use `dir` as the parent of its job groups. */
export function checkWritable(dir: string, name: string): void {
  for (const path of [dir, join(dir, 'cgroup.procs'), join(dir, 'cgroup.subtree_control')]) {
    try {
      accessSync(path, constants.W_OK);
    } catch (error) {
      const code = isErrno(error, 'EROFS') ? 'read-only cgroup filesystem (EROFS)' : (error as NodeJS.ErrnoException).code ?? String(error);
      throw new CgroupDelegationError(`${name} is not writable by uid ${process.getuid?.()}: ${path}: ${code}`);
    }
  }
}

/**
 * Moves every process of the service out of `dir` into its `confine-supervisor` leaf, then enables the
 * controllers for `dir`'s children. Processes can appear while this runs (node starting the agent, the
 * agent forking), so it loops: list, move ours, try enabling; EBUSY means someone is still in `dir`.
 * A process that stays in `dir` and is not ours (not a descendant of the service's head process) is refused
 * by name: that cgroup was not delegated to us.
 */
export async function evacuateAndEnable(dir: string, name: string, cgroupPath: string, enable: string): Promise<void> {
  const supervisor = join(dir, SUPERVISOR);
  const head = familyHead(process.pid, cgroupPath);
  let lastError: unknown;
  let foreignRounds = 0;
  for (let round = 0; round < 50; round++) {
    // node itself first: every child it spawns from now on starts in the supervisor leaf.
    const pids = pidsIn(join(dir, 'cgroup.procs')).sort((a, b) => (a === process.pid ? -1 : b === process.pid ? 1 : 0));
    const foreign = pids.filter((pid) => !descendsFrom(pid, head));
    if (foreign.length > 0) {
      // Nothing is moved or created while a stranger is there. Looked at thrice: a process that was exiting,
      // or whose parent was, can look foreign for a moment.
      if (++foreignRounds >= 3) {
        const named = foreign.slice(0, 5).map((pid) => `${pid} (${commandOf(pid)})`).join(', ');
        throw new CgroupDelegationError(
          `${name} also holds processes that are not this service's: ${named}${foreign.length > 5 ? ', ...' : ''}; ` +
            'its controllers can only be enabled once it holds no process, and confine moves only its own',
        );
      }
      await sleep(20);
      continue;
    }
    if (pids.length > 0) makeDirTree(supervisor);
    for (const pid of pids) movePid(supervisor, pid);
    try {
      writeText(join(dir, 'cgroup.subtree_control'), enable);
      return;
    } catch (error) {
      if (!isErrno(error, 'EBUSY')) throw error;
      lastError = error; // a process entered between listing and enabling: look again
    }
  }
  throw new CgroupDelegationError(`could not empty ${name} to enable its controllers (${String(lastError)})`);
}

function movePid(supervisor: string, pid: number): void {
  try {
    writeText(join(supervisor, 'cgroup.procs'), String(pid));
  } catch (error) {
    if (!isErrno(error, 'ESRCH')) throw error; // ESRCH: it exited meanwhile
  }
}
