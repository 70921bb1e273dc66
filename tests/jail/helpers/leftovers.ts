// What a run may leave behind on the host, scoped to one owner pid (other engineers' suites share the
// machine and the state dir): processes of the jails' host uids, job cgroups, workspace mounts and dirs.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JailHost } from '../../../src/jail/host.js';

export interface Leftovers {
  processes: string[];
  cgroups: string[];
  mounts: string[];
  workspaceDirs: string[];
}

/**
 * Host pids whose real, effective or saved uid is one of `uids`. Zombies are listed apart: bubblewrap's
 * monitor exits as soon as its pid-1 init reports the exit status, so that init is briefly a zombie
 * (it holds no memory, files or cgroup) until the jail agent, its subreaper, reaps it. A jail whose
 * agent is gone is reaped by host init instead (this machine's does so every ~2 s).
 * `waitForNoZombies` checks that it really goes.
 */
export async function processesOf(uids: ReadonlySet<number>): Promise<{ live: string[]; zombies: string[] }> {
  const live: string[] = [];
  const zombies: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const uidLine = /^Uid:\s+(.*)$/m.exec(status)?.[1];
    if (!uidLine || !uidLine.split(/\s+/).some((u) => uids.has(Number(u)))) continue;
    const state = /^State:\s+(\S)/m.exec(status)?.[1];
    (state === 'Z' ? zombies : live).push(`${pid} ${state} uid ${uidLine.split(/\s+/)[0]}`);
  }
  return { live, zombies };
}

/** Waits for the jails' zombies to be reaped; uids another owner leased meanwhile are not ours to judge. */
export async function waitForNoZombies(uids: ReadonlySet<number>, stateDir?: string, timeoutMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const others = stateDir ? await leasedByOthers(stateDir, process.pid, uids) : new Set<number>();
    const zombies = (await processesOf(uids)).zombies.filter((entry) => !others.has(Number(/uid (\d+)/.exec(entry)![1])));
    if (zombies.length === 0 || Date.now() > deadline) return zombies;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Uids that another live owner has leased right now: after a run releases its uid, a parallel test file
 * (or another engineer's suite) may lease it and run its own jail under it.
 */
async function leasedByOthers(stateDir: string, ownerPid: number, uids: ReadonlySet<number>): Promise<Set<number>> {
  const others = new Set<number>();
  for (const uid of uids) {
    const owner = await readFile(join(stateDir, 'identities', String(uid)), 'utf8').catch(() => undefined);
    if (owner !== undefined && !ownedBy(owner.trim(), ownerPid)) others.add(uid);
  }
  return others;
}

/** Where to look: a JailHost, or the same shape for a state dir no host has opened yet. */
export interface LeftoverScope {
  cgroups: Pick<JailHost['cgroups'], 'roots'>;
  config: { stateDir: string };
}

/**
 * Whether a leftover's name or a lease's content names the given pid as owner: `<pid>.<start>.<boot>`
 * (src/jail/liveness.ts) or the older bare `<pid>`.
 */
function ownedBy(nameOrOwner: string, ownerPid: number): boolean {
  return nameOrOwner === String(ownerPid) || nameOrOwner.startsWith(`${ownerPid}.`) || nameOrOwner.startsWith(`${ownerPid}-`);
}

export async function leftovers(host: LeftoverScope, ownerPid: number, uids: ReadonlySet<number>): Promise<Leftovers> {
  const cgroups: string[] = [];
  for (const root of host.cgroups.roots) {
    for (const name of await readdir(root).catch(() => [] as string[])) {
      if (ownedBy(name, ownerPid)) cgroups.push(join(root, name));
    }
  }
  const workspaceRoot = join(host.config.stateDir, 'workspaces');
  const workspaceDirs = (await readdir(workspaceRoot).catch(() => [] as string[])).filter((n) => ownedBy(n, ownerPid));
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .filter((line) => {
      const mountPoint = line.split(' ')[4] ?? '';
      return mountPoint.startsWith(`${workspaceRoot}/`) && ownedBy(mountPoint.slice(workspaceRoot.length + 1), ownerPid);
    });
  const before = await leasedByOthers(host.config.stateDir, ownerPid, uids);
  const live = (await processesOf(uids)).live;
  const after = await leasedByOthers(host.config.stateDir, ownerPid, uids);
  const processes = live.filter((entry) => {
    const uid = Number(/uid (\d+)/.exec(entry)![1]);
    return !before.has(uid) && !after.has(uid);
  });
  return { processes, cgroups, mounts, workspaceDirs };
}

export const NOTHING_LEFT: Leftovers = { processes: [], cgroups: [], mounts: [], workspaceDirs: [] };
