// cgroup v2 (unified): one directory per job, below the service's own (delegated) cgroup. The "no internal
// processes" rule means the service's processes first leave that cgroup for a leaf (`confine-supervisor`);
// delegation.ts decides whether the cgroup is ours to use and does the move.
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CPU_PERIOD_US, cpuQuotaUs, JOBS_CPU_WEIGHT_V2 } from './cpu-quota.js';
import {
  checkWritable, CgroupDelegationError, evacuateAndEnable, isHierarchyRoot, missingControllers, sessionScopeOf, SUPERVISOR,
} from './delegation.js';
import { type CgroupLayout, selfDirectory } from './detect.js';
import {
  isErrno, killPids, listDirs, makeDir, makeDirTree, pidsIn, readKeyed, readNumber, readText, removeCgroupDir, waitEmpty, writeText,
} from './fsutil.js';
import type { CgroupDriver, CgroupLimits, CgroupUsage, JobCgroup } from './types.js';

const REQUIRED = ['memory', 'pids', 'cpu'] as const;

/** Why this process cannot use cgroup v2, said plainly (detect.ts reports it when v1 is no alternative). */
export interface V2Rejection {
  rejected: CgroupDelegationError;
}

export async function v2Driver(layout: CgroupLayout, groupName: string): Promise<CgroupDriver | V2Rejection> {
  const mount = layout.mounts.find((m) => m.version === 2);
  const rawPath = layout.selfPaths.get('');
  let self = mount && selfDirectory(layout, mount);
  if (!mount || !self || rawPath === undefined) {
    return { rejected: new CgroupDelegationError('no cgroup2 hierarchy is mounted, or this process is not in it', 'Mount cgroup2 at /sys/fs/cgroup') };
  }
  let cgroupPath = rawPath;
  if (basename(self) === SUPERVISOR) {
    self = dirname(self); // started inside (or already moved into) the leaf: the delegated cgroup is its parent
    cgroupPath = dirname(cgroupPath);
  }
  const where = `cgroup ${cgroupPath}`;
  const session = sessionScopeOf(cgroupPath);
  if (session && !isHierarchyRoot(self)) {
    return {
      rejected: new CgroupDelegationError(
        `this process runs in the login session scope ${cgroupPath}, which systemd does not delegate: confine cannot create its job groups there`,
      ),
    };
  }
  const available = (readText(join(self, 'cgroup.controllers')) ?? '').split(/\s+/).filter(Boolean);
  const missing = missingControllers(available, REQUIRED);
  if (missing.length > 0) {
    return {
      rejected: new CgroupDelegationError(
        `${where} lacks the ${missing.join(', ')} controller${missing.length > 1 ? 's' : ''} (available: ${available.join(' ') || 'none'}): ` +
          'its parent does not delegate them (systemd enables them for a unit with Delegate=yes)',
      ),
    };
  }
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
        } catch {
          // Gone: nothing left to kill. Otherwise (no cgroup.kill before Linux 5.14, or it was refused) the
          // freezer path does the same job, and its own failure is what the caller sees.
          if (!existsSync(dir)) return true;
          await freezeAndKillV2(dir);
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
  /** Makes the job groups' parent: the service leaves `self` first unless `self` is the hierarchy's root. */
  const prepare = async (): Promise<void> => {
    if (prepared) return;
    const enable = REQUIRED.map((c) => `+${c}`).join(' ');
    checkWritable(self, where);
    if (isHierarchyRoot(self)) {
      writeText(join(self, 'cgroup.subtree_control'), enable); // the root may hold processes and controllers
    } else {
      await evacuateAndEnable(self, where, cgroupPath, enable);
    }
    makeDirTree(root);
    writeText(join(root, 'cgroup.subtree_control'), enable);
    writeText(join(root, 'cpu.weight'), String(JOBS_CPU_WEIGHT_V2));
    prepared = true;
  };

  return {
    version: 2,
    controllers: REQUIRED,
    roots: [root],
    prepare,
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

/**
 * The kill path without cgroup.kill: freeze the group (so nothing forks between reading the pid list and
 * killing it), SIGKILL every member (a v2-frozen task still dies of SIGKILL), and thaw in any case: a kill
 * that fails (EPERM without CAP_KILL in a container) must not leave the jail frozen for ever.
 */
export async function freezeAndKillV2(dir: string, kill: (pids: number[]) => void = killPids): Promise<void> {
  writeText(join(dir, 'cgroup.freeze'), '1');
  try {
    for (let i = 0; i < 200 && !/^frozen 1$/m.test(readText(join(dir, 'cgroup.events')) ?? ''); i++) await sleep(5);
    kill(pidsIn(join(dir, 'cgroup.procs')));
  } finally {
    writeText(join(dir, 'cgroup.freeze'), '0');
  }
}
