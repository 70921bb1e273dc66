// What a worker process left behind, found from outside: processes in its host uid range, its workspace
// mounts and directories, its job cgroups. Names of leftovers start with the owner's pid (`<pid>.<start>...`,
// src/jail/liveness.ts), so each probe looks for one process's own.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Pids of live processes whose real uid lies in [base, base + count). */
export async function processesOfUids(base: number, count: number): Promise<number[]> {
  const found: number[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
    if (uid >= base && uid < base + count) found.push(Number(pid));
  }
  return found;
}

/** Mount points (from our mount namespace) below a worker's state dir owned by `pid`. */
export async function mountsOf(stateDir: string, pid: number): Promise<string[]> {
  const lines = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n');
  return lines.map((l) => l.split(' ')[4] ?? '').filter((p) => p.startsWith(`${stateDir}/`) && p.includes(`/${pid}.`));
}

/** Workspace directories a process `pid` created in a state dir (named `<pid>.<start>...`). */
export async function workspacesOf(stateDir: string, pid: number): Promise<string[]> {
  return (await readdir(join(stateDir, 'workspaces')).catch(() => [])).filter((name) => name.startsWith(`${pid}.`));
}

/** Job cgroups `pid` created below its own cgroup (every controller it used), e.g. `<root>/<own>/confine/<pid>.…`. */
export async function cgroupsOf(ownCgroupLines: string, pid: number): Promise<string[]> {
  const found: string[] = [];
  for (const line of ownCgroupLines.split('\n').filter(Boolean)) {
    // v1: `4:memory:/path`; v2: `0::/path`
    const [, controllers = '', path = ''] = line.split(':');
    const mount = controllers === '' ? '/sys/fs/cgroup' : `/sys/fs/cgroup/${controllers.split(',').find((c) => c !== '' && !c.startsWith('name=')) ?? ''}`;
    const parent = join(mount, path, 'confine');
    for (const name of await readdir(parent).catch(() => [])) if (name.startsWith(`${pid}.`)) found.push(join(parent, name));
  }
  return found;
}

/** `pid state ppid uid: cmdline` of each pid, for failure messages (which process is it, whose child). */
export async function describeProcesses(pids: readonly number[]): Promise<string> {
  const lines: string[] = [];
  for (const pid of pids) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const field = (name: string): string => new RegExp(`^${name}:\\s+(\\S+)`, 'm').exec(status)?.[1] ?? '?';
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').trim();
    lines.push(`${pid} ${field('State')} ppid=${field('PPid')} uid=${field('Uid')}: ${cmdline || '(no cmdline)'}`);
  }
  return lines.join('\n');
}
