import { readCgroupLayout } from './detect.js';
import { v1Driver } from './v1.js';
import { v2Driver } from './v2.js';
import type { CgroupDriver } from './types.js';

export type { CgroupDriver, CgroupLimits, CgroupUsage, JobCgroup } from './types.js';

/**
 * Picks the cgroup version whose controllers this process can use. A hybrid host (v1 controllers plus
 * an empty v2 mount, like this development machine) uses v1; a unified host uses v2.
 */
export async function detectCgroups(groupName = 'confine'): Promise<CgroupDriver> {
  const layout = await readCgroupLayout();
  const driver = (await v2Driver(layout, groupName)) ?? v1Driver(layout, groupName);
  if (!driver) {
    throw new Error(
      'cgroups: need memory, pids and cpu controllers (v2) or memory, pids, cpu, cpuacct and freezer (v1) ' +
        'writable by this process; run as root or delegate a cgroup subtree to the service',
    );
  }
  return driver;
}
