// Who owns a leftover (a job cgroup, a workspace, a uid lease, an artifact temp file, a half-built program
// tree), in a form that survives pid reuse. A pid alone does not: a restarted container's service is pid 1
// again, as its killed predecessor was, and `kill(1, 0)` then finds the new service itself, so every
// leftover of the predecessor looked live and stayed forever (issue 9 item 8). An owner is therefore the
// pid, the process's start time (/proc/<pid>/stat field 22, clock ticks since boot), the first 8 hex
// digits of the boot id and the pid namespace: a later process with the same pid has another start time,
// a leftover kept on disk across a reboot has another boot id, and a pid means something only in its own
// pid namespace. Every sweep decides through isStale/isOwnerAlive here.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  /** /proc/<pid>/stat field 22, as written there. */
  startTicks: string;
  /** First 8 hex digits of /proc/sys/kernel/random/boot_id. */
  boot: string;
  /** Inode of the pid namespace the pid belongs to (/proc/self/ns/pid). */
  pidNamespace: string;
}

/**
 * `<pid>.<start ticks>.<boot>.<pid namespace>`: no '-', so names `<owner>-<anything>` split unambiguously.
 * (Owners written before the namespace was part of it lack the last field: they are judged as this one's.)
 */
const OWNER = /^(\d+)\.(\d+)\.([0-9a-f]{8})(?:\.(\d+))?$/;
/** The initial pid namespace's inode: a fixed kernel constant (PROC_PID_INIT_INO, include/linux/proc_ns.h). */
export const INITIAL_PID_NAMESPACE = String(0xeffffffc);
/** Names written before owners carried a start time: `<pid>-<anything>`. */
const LEGACY = /^(\d+)-/;

export function ownerOf(identity: ProcessIdentity): string {
  return `${identity.pid}.${identity.startTicks}.${identity.boot}.${identity.pidNamespace}`;
}

function readBoot(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().replaceAll('-', '').slice(0, 8);
}

/** `pid:[4026531836]` -> `4026531836`; undefined when the process is gone. */
function pidNamespaceOf(pid: number | 'self'): string | undefined {
  try {
    return /\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/pid`))?.[1];
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES') return undefined;
    throw error;
  }
}

interface ProcStat {
  state: string;
  startTicks: string;
}

/** State and start time of a process, or undefined when it does not exist. */
function procStat(pid: number | 'self'): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw error;
  }
  // Field 2 (the command name) is in parentheses and may itself hold spaces and ')': fields 3.. follow
  // the last ')'. Field 3 is the state, field 22 the start time.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTicks = fields[19];
  if (state === undefined || startTicks === undefined) throw new Error(`unexpected /proc/${pid}/stat: ${text.slice(0, 200)}`);
  return { state, startTicks };
}

/**
 * This process's identity, read once at start (it never changes). Through /proc/self: /proc/<pid> names
 * another process when the mounted procfs belongs to another pid namespace than the process.
 */
export const SELF: Readonly<ProcessIdentity> = Object.freeze({
  pid: process.pid,
  startTicks: procStat('self')!.startTicks,
  boot: readBoot(),
  pidNamespace: pidNamespaceOf('self')!,
});

/** The owner string of everything this process creates. */
export const SELF_OWNER = ownerOf(SELF);

/** A name for something this process leaves on the host: `<owner>-<suffix>`. */
export function ownedName(suffix: string): string {
  return `${SELF_OWNER}-${suffix}`;
}

/** Whether a host process exists (a zombie does: its pid is not free yet). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process an owner string names is still running. A zombie owner is dead (it can use
 * nothing it left), a pid now held by a process started at another time is a different process, and an
 * owner from another boot is gone whatever runs under its pid now. An owner in another pid namespace
 * cannot be looked up by its pid here: it counts as alive while any process visible here is in that
 * namespace (an instance under `unshare --pid`, a container's service seen from the host), and as gone
 * once none is (a restarted container's predecessor: its namespace died with it).
 */
export function isOwnerAlive(owner: string): boolean {
  const match = OWNER.exec(owner);
  if (match) {
    const [, pid, startTicks, boot, pidNamespace] = match;
    if (boot !== SELF.boot) return false;
    if (pidNamespace !== undefined && pidNamespace !== SELF.pidNamespace) {
      // The initial pid namespace is every other one's ancestor, and from inside a child namespace with its
      // own /proc (a container's service, an instance under `unshare --pid --mount-proc`) none of its
      // processes is visible: its owners cannot be judged from here, so they are never taken for dead (such
      // a sweep killed a live host CLI's jail sharing the cgroup parent; found by make test-v2).
      if (pidNamespace === INITIAL_PID_NAMESPACE) return true;
      return pidNamespaceInUse(pidNamespace);
    }
    const stat = procStat(Number(pid));
    return stat !== undefined && stat.startTicks === startTicks && stat.state !== 'Z' && stat.state !== 'X';
  }
  // A bare pid (uid leases written before owners carried a start time).
  if (/^\d+$/.test(owner)) return legacyOwnerAlive(Number(owner));
  return false;
}

/**
 * Names written by an older confine carry only a pid. This process never writes one, so such a name
 * under this process's own pid is certainly a predecessor's (the restarted-container case); under
 * another pid, all that can be known is whether that pid is in use.
 */
function legacyOwnerAlive(pid: number): boolean {
  return pid !== process.pid && processAlive(pid);
}

/** Whether any process visible in this process's /proc is in the given pid namespace. */
function pidNamespaceInUse(pidNamespace: string): boolean {
  for (const name of readdirSync('/proc')) {
    if (/^\d+$/.test(name) && pidNamespaceOf(Number(name)) === pidNamespace) return true;
  }
  return false;
}

/** Whether a leftover named `<owner>-...` (or the legacy `<pid>-...`) belongs to a process that is gone. */
export function isStale(name: string): boolean {
  const dash = name.indexOf('-');
  if (dash > 0 && OWNER.test(name.slice(0, dash))) return !isOwnerAlive(name.slice(0, dash));
  const legacy = LEGACY.exec(name);
  if (legacy) return !legacyOwnerAlive(Number(legacy[1]));
  return false; // not a name this service makes: never ours to remove
}
