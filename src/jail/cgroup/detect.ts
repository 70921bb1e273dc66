// Finds this process's own cgroups from /proc/self/mountinfo and /proc/self/cgroup, so job groups are
// created below the service's cgroup (the delegation model) and never at a hierarchy's root: the host's
// own limits on the service keep holding for everything it starts.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMountinfo, readMountinfo } from '../mountinfo.js';

export interface CgroupMount {
  version: 1 | 2;
  mountPoint: string;
  /** Root of the hierarchy that is visible at mountPoint (not '/' inside some containers). */
  root: string;
  controllers: string[];
}

export interface CgroupLayout {
  mounts: CgroupMount[];
  /** hierarchy id (v1 controller list, or '' for v2) -> path of this process relative to the hierarchy root */
  selfPaths: Map<string, string>;
}

export async function readCgroupLayout(): Promise<CgroupLayout> {
  return parseCgroupLayout(await readMountinfo(), await readFile('/proc/self/cgroup', 'utf8'));
}

/** Pure: the layout from the texts of /proc/self/mountinfo and /proc/self/cgroup (fixture-tested). */
export function parseCgroupLayout(mountinfo: string, cgroupFile: string): CgroupLayout {
  const mounts: CgroupMount[] = [];
  for (const { fsType, mountPoint, root, superOptions } of parseMountinfo(mountinfo)) {
    if (fsType === 'cgroup2') mounts.push({ version: 2, mountPoint, root, controllers: [] });
    if (fsType === 'cgroup') {
      const controllers = superOptions.filter((o) => KNOWN_V1.has(o));
      if (controllers.length > 0) mounts.push({ version: 1, mountPoint, root, controllers });
    }
  }
  const selfPaths = new Map<string, string>();
  for (const line of cgroupFile.split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (match) selfPaths.set(match[1]!, match[2]!);
  }
  return { mounts, selfPaths };
}

const KNOWN_V1 = new Set(['memory', 'pids', 'cpu', 'cpuacct', 'freezer', 'cpuset', 'blkio', 'devices']);

/** Host path of this process's cgroup in a given mount. */
export function selfDirectory(layout: CgroupLayout, mount: CgroupMount): string | undefined {
  const key = mount.version === 2 ? '' : mount.controllers.join(',');
  let path = layout.selfPaths.get(key);
  if (path === undefined) return undefined;
  if (mount.root !== '/' && path.startsWith(mount.root)) path = path.slice(mount.root.length) || '/';
  return join(mount.mountPoint, path);
}
