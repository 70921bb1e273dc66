// cgroup v2 (unified): one directory per job. The "no internal processes" rule means the service moves
// itself into a leaf (`confine-supervisor`) before enabling controllers for its job groups.
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CPU_PERIOD_US, cpuQuotaUs, JOBS_CPU_WEIGHT_V2 } from './cpu-quota.js';
import { type CgroupLayout, selfDirectory } from './detect.js';
import {
  isErrno, killPids, listDirs, makeDir, makeDirTree, pidsIn, readKeyed, readNumber, removeCgroupDir, waitEmpty, writeText,
} from './fsutil.js';
import type { CgroupDriver, CgroupLimits, CgroupUsage, JobCgroup } from './types.js';

const REQUIRED = ['memory', 'pids', 'cpu'] as const;
const SUPERVISOR = 'confine-supervisor';

export async function v2Driver(layout: CgroupLayout, groupName: string): Promise<CgroupDriver | undefined> {
  const mount = layout.mounts.find((m) => m.version === 2);
  let self = mount && selfDirectory(layout, mount);
  if (!mount || !self) return undefined;
  if (basename(self) === SUPERVISOR) self = dirname(self);
  const available = (await readFile(join(self, 'cgroup.controllers'), 'utf8').catch(() => '')).split(/\s+/);
  if (!REQUIRED.every((c) => available.includes(c))) return undefined;
  const root = join(self, groupName);

  const open = (name: string): JobCgroup => {
    const dir = join(root, name);
    return {
      procsFiles: [join(dir, 'cgroup.procs')],
      async usage(): Promise<CgroupUsage> {
        const memoryEvents = readKeyed(join(dir, 'memory.events'));
        const cpuStat = readKeyed(join(dir, 'cpu.stat'));
        const pidsEvents = readKeyed(join(dir, 'pids.events'));
        const peak = readNumber(join(dir, 'memory.peak'));
        return {
          cpuMs: Math.round((cpuStat.get('usage_usec') ?? 0) / 1000),
          peakMemoryBytes: peak ?? readNumber(join(dir, 'memory.current')) ?? 0,
          oomKilled: (memoryEvents.get('oom_kill') ?? 0) > 0 || (memoryEvents.get('oom_group_kill') ?? 0) > 0,
          pidsLimitHit: (pidsEvents.get('max') ?? 0) > 0,
        };
      },
      async killAll(options: { graceMs?: number } = {}): Promise<boolean> {
        if (await waitEmpty(this.procsFiles, options.graceMs ?? 0)) return true;
        try {
          writeText(join(dir, 'cgroup.kill'), '1'); // atomic for the whole subtree (Linux 5.14+)
        } catch (error) {
          if (isErrno(error, 'ENOENT')) return true;
          writeText(join(dir, 'cgroup.freeze'), '1');
          try {
            killPids(pidsIn(join(dir, 'cgroup.procs')));
          } finally {
            writeText(join(dir, 'cgroup.freeze'), '0'); // never leave the group frozen (see v1's freezeAndKill)
          }
        }
        return false;
      },
      async setLimits(limits: CgroupLimits): Promise<void> {
        writeText(join(dir, 'memory.max'), String(limits.memoryBytes));
        try {
          writeText(join(dir, 'memory.swap.max'), '0');
        } catch (error) {
          if (!isErrno(error, 'ENOENT')) throw error; // no swap accounting: nothing to turn off
        }
        writeText(join(dir, 'memory.oom.group'), '1');
        writeText(join(dir, 'pids.max'), String(limits.maxPids));
        writeText(join(dir, 'cpu.max'), `${cpuQuotaUs(limits.cpuCores) ?? 'max'} ${CPU_PERIOD_US}`);
      },
      async remove(): Promise<void> {
        for (let i = 0; i < 2500 && pidsIn(join(dir, 'cgroup.procs')).length > 0; i++) await sleep(2);
        await removeCgroupDir(dir);
      },
    };
  };

  let prepared = false;
  const prepare = async (): Promise<void> => {
    if (prepared) return;
    const supervisor = join(self, SUPERVISOR);
    makeDirTree(supervisor);
    if (pidsIn(join(self, 'cgroup.procs')).includes(process.pid)) {
      writeText(join(supervisor, 'cgroup.procs'), String(process.pid));
    }
    const enable = REQUIRED.map((c) => `+${c}`).join(' ');
    writeText(join(self, 'cgroup.subtree_control'), enable);
    makeDirTree(root);
    writeText(join(root, 'cgroup.subtree_control'), enable);
    writeText(join(root, 'cpu.weight'), String(JOBS_CPU_WEIGHT_V2));
    prepared = true;
  };

  return {
    version: 2,
    controllers: REQUIRED,
    roots: [root],
    async create(name: string, limits: CgroupLimits): Promise<JobCgroup> {
      await prepare();
      const dir = join(root, name);
      await makeDir(dir);
      const group = open(name);
      await group.setLimits(limits);
      return group;
    },
    async list(): Promise<string[]> {
      return listDirs(root);
    },
    async removeByName(name: string): Promise<void> {
      const group = open(name);
      await group.killAll();
      await group.remove();
    },
  };
}
