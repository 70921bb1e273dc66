import { CgroupDelegationError } from './delegation.js';
import { readCgroupLayout } from './detect.js';
import { v1Driver } from './v1.js';
import { v2Driver } from './v2.js';
import type { CgroupDriver } from './types.js';

export type { CgroupDriver, CgroupLimits, CgroupUsage, JobCgroup } from './types.js';
export { CgroupDelegationError, DELEGATION_ADVICE } from './delegation.js';

/**
 * Picks the cgroup version whose controllers this process can use, and prepares it. A hybrid host (v1
 * controllers plus an empty v2 mount, like this development machine) uses v1; a unified host uses v2.
 * When neither works, the error says why v2 was refused (and what to do), not just that it was.
 */
export async function detectCgroups(groupName = 'confine'): Promise<CgroupDriver> {
  const layout = await readCgroupLayout();
  const v2 = await v2Driver(layout, groupName);
  const driver = 'rejected' in v2 ? v1Driver(layout, groupName) : v2;
  if (!driver) {
    if ('rejected' in v2 && layout.mounts.some((m) => m.version === 2) && !layout.mounts.some((m) => m.version === 1)) {
      throw v2.rejected; // a unified host: the v2 reason is the whole story
    }
    throw new CgroupDelegationError(
      'need memory, pids and cpu controllers (v2) or memory, pids, cpu, cpuacct and freezer (v1) writable by this process; ' +
        `v2 refused: ${'rejected' in v2 ? v2.rejected.reason : 'unknown'}; v1: ${layout.mounts.some((m) => m.version === 1) ? 'controllers missing' : 'not mounted'}`,
      'Run as root with the controllers delegated to the service',
    );
  }
  await driver.prepare();
  return driver;
}
