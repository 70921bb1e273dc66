// cgroup v1: one directory per hierarchy (memory, pids, cpu, cpuacct, freezer — some may share a mount).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CPU_PERIOD_US, cpuQuotaUs, JOBS_CPU_SHARES_V1 } from './cpu-quota.js';
import { type CgroupLayout, selfDirectory } from './detect.js';
import {
  killPids, listDirs, makeDir, makeDirTree, pidsIn, readKeyed, readNumber, readText, removeCgroupDir, waitEmpty, writeText,
} from './fsutil.js';
import type { CgroupDriver, CgroupLimits, CgroupUsage, JobCgroup } from './types.js';

const REQUIRED = ['memory', 'pids', 'cpu', 'cpuacct', 'freezer'] as const;
type Controller = (typeof REQUIRED)[number];

export function v1Driver(layout: CgroupLayout, groupName: string): CgroupDriver | undefined {
  const roots = new Map<Controller, string>();
  for (const controller of REQUIRED) {
    const mount = layout.mounts.find((m) => m.version === 1 && m.controllers.includes(controller));
    const self = mount && selfDirectory(layout, mount);
    if (!self) return undefined;
    roots.set(controller, join(self, groupName));
  }
  const hierarchyRoots = [...new Set(roots.values())];
  let rootsMade = false;
  /** Whether memory+swap accounting exists (a kernel property: asked once). */
  let swapAccounting: boolean | undefined;
  const root = (c: Controller): string => roots.get(c)!;
  // v1 has no "no internal processes" rule: the roots are made below the service's cgroups, nothing moves.
  const prepare = async (): Promise<void> => {
    if (rootsMade) return;
    for (const r of hierarchyRoots) makeDirTree(r);
    writeText(join(root('cpu'), 'cpu.shares'), String(JOBS_CPU_SHARES_V1));
    rootsMade = true;
  };

  const jobDirs = (name: string): Map<Controller, string> =>
    new Map(REQUIRED.map((c) => [c, join(root(c), name)] as const));

  const open = (name: string): JobCgroup => {
    const dirs = jobDirs(name);
    const dir = (c: Controller): string => dirs.get(c)!;
    const unique = [...new Set(dirs.values())];
    return {
      procsFiles: unique.map((d) => join(d, 'cgroup.procs')),
      async usage(): Promise<CgroupUsage> {
        const oom = readKeyed(join(dir('memory'), 'memory.oom_control'));
        const pidsEvents = readKeyed(join(dir('pids'), 'pids.events'));
        const cpuNs = readNumber(join(dir('cpuacct'), 'cpuacct.usage'));
        const peak = readNumber(join(dir('memory'), 'memory.max_usage_in_bytes'));
        return {
          cpuMs: Math.round((cpuNs ?? 0) / 1e6),
          peakMemoryBytes: peak ?? 0,
          oomKilled: (oom.get('oom_kill') ?? 0) > 0,
          pidsLimitHit: (pidsEvents.get('max') ?? 0) > 0,
        };
      },
      async killAll(options: { graceMs?: number } = {}): Promise<boolean> {
        // An empty group stays empty: only a member can add a process (by forking). This is the common
        // case after a jail ended by itself, and it skips the freeze round-trip (measured ~4 ms).
        if (await waitEmpty(this.procsFiles, options.graceMs ?? 0)) return true;
        const freezer = join(dir('freezer'), 'freezer.state');
        // A crashed predecessor's partial group may lack the freezer file: then kill without freezing.
        await freezeAndKill(existsSync(freezer) ? freezer : undefined, this.procsFiles);
        return false;
      },
      setLimits: (limits: CgroupLimits) => setLimits(name, limits),
      async remove(): Promise<void> {
        await Promise.all(
          unique.map(async (d) => {
            for (let i = 0; i < 2500 && pidsIn(join(d, 'cgroup.procs')).length > 0; i++) {
              killPids(pidsIn(join(d, 'cgroup.procs')));
              await sleep(2);
            }
            await removeCgroupDir(d);
          }),
        );
      },
    };
  };

  return {
    version: 1,
    controllers: REQUIRED,
    roots: hierarchyRoots,
    prepare,
    async create(name: string, limits: CgroupLimits): Promise<JobCgroup> {
      await prepare();
      const group = open(name);
      await Promise.all([...new Set(jobDirs(name).values())].map((d) => makeDir(d)));
      await group.setLimits(limits);
      return group;
    },
    async list(): Promise<string[]> {
      const names = new Set<string>();
      for (const r of hierarchyRoots) for (const n of listDirs(r)) names.add(n);
      return [...names];
    },
    async removeByName(name: string): Promise<void> {
      const group = open(name);
      await group.killAll();
      await group.remove();
    },
  };

  /** Limits only ever go down (fresh groups start unlimited), so memory.limit before memsw always holds. */
  async function setLimits(name: string, limits: CgroupLimits): Promise<void> {
    const dirs = jobDirs(name);
    const memory = dirs.get('memory')!;
    const cpu = dirs.get('cpu')!;
    writeText(join(memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
    // Swap off: memory+swap capped at the memory limit where swap accounting exists.
    swapAccounting ??= existsSync(join(memory, 'memory.memsw.limit_in_bytes'));
    if (swapAccounting) writeText(join(memory, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes));
    writeText(join(memory, 'memory.swappiness'), '0');
    writeText(join(dirs.get('pids')!, 'pids.max'), String(limits.maxPids));
    writeText(join(cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
    writeText(join(cpu, 'cpu.cfs_quota_us'), String(cpuQuotaUs(limits.cpuCores) ?? -1));
  }
}

/**
 * Kills every process in the group's cgroup.procs files, frozen first so nothing can fork between reading
 * a pid list and killing it. Whatever happens, what was frozen is thawed: in a v1 group left FROZEN the
 * processes stay forever (a v1-frozen task does not die of a pending SIGKILL until thawed), and neither the
 * jail's processes nor its group could ever be removed.
 */
export async function freezeAndKill(
  freezerState: string | undefined,
  procsFiles: readonly string[],
  kill: (pids: number[]) => void = killPids,
): Promise<void> {
  if (freezerState) writeText(freezerState, 'FROZEN');
  try {
    for (let i = 0; freezerState && i < 200 && readText(freezerState)?.trim() !== 'FROZEN'; i++) await sleep(5);
    for (const file of procsFiles) kill(pidsIn(file));
  } finally {
    if (freezerState) writeText(freezerState, 'THAWED');
  }
}
