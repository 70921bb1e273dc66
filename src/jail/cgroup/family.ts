// Which processes of a cgroup belong to this service. Under systemd's delegation model (Delegate=yes) the
// unit's cgroup is the service's own: everything in it was started by the service's main process (its
// children, like the jail agent, or itself when a wrapper `sh -c` or a test runner started node). The
// family is therefore "descendants of the topmost ancestor of this process that is still inside the
// delegated cgroup"; anything else in that cgroup was put there by someone else, and is not ours to move.
import { readFileSync } from 'node:fs';

/** Parent pid from /proc/<pid>/stat; undefined when the process is gone. */
export function parentOf(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone (ENOENT/ESRCH): it can no longer be in any cgroup
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** The process's v2 cgroup path (as /proc/<pid>/cgroup shows it, relative to our cgroup namespace). */
export function cgroupOf(pid: number): string | undefined {
  try {
    return /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

const MAX_DEPTH = 4096; // pid chains are short; the bound only guards against a /proc that lies

export function within(path: string | undefined, cgroup: string): boolean {
  if (path === undefined) return false;
  return path === cgroup || path.startsWith(cgroup === '/' ? '/' : `${cgroup}/`);
}

/** How the family is read: /proc by default, a table in tests. */
export interface ProcessView {
  parentOf(pid: number): number | undefined;
  cgroupOf(pid: number): string | undefined;
}

export const PROC: ProcessView = { parentOf, cgroupOf };

/** The topmost ancestor of `self` (itself included) whose cgroup is `cgroup` or below it. */
export function familyHead(self: number, cgroup: string, view: ProcessView = PROC): number {
  let head = self;
  for (let pid = view.parentOf(self), i = 0; pid !== undefined && pid > 0 && i < MAX_DEPTH; pid = view.parentOf(pid), i++) {
    if (!within(view.cgroupOf(pid), cgroup)) break;
    head = pid;
  }
  return head;
}

/** Whether `pid` descends from `head` (or is it). A process already gone counts as ours: it is leaving. */
export function descendsFrom(pid: number, head: number, view: ProcessView = PROC): boolean {
  if (pid === head) return true;
  let p = view.parentOf(pid);
  if (p === undefined) return true; // gone: nothing left to move
  for (let i = 0; i < MAX_DEPTH && p !== undefined && p > 0; i++, p = view.parentOf(p)) {
    if (p === head) return true;
  }
  return false; // reached pid 0, or an ancestor vanished mid-walk (the caller looks again)
}
