// cgroup detection from fixture /proc/self/mountinfo and /proc/self/cgroup texts, and on the machine it runs
// on: a hybrid v1 host here, a pure v2 guest under `make test-v2` (tests/jail/cgroup-v2.test.ts runs the v2
// driver for real there). The v2 placement rules are also exercised against a fake cgroup2 mount in a
// temporary directory (controller files only, no kernel behind them).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCgroupLayout, selfDirectory } from '../../src/jail/cgroup/detect.js';
import { v1Driver } from '../../src/jail/cgroup/v1.js';
import { CgroupDelegationError, DELEGATION_ADVICE } from '../../src/jail/cgroup/delegation.js';
import type { CgroupDriver } from '../../src/jail/cgroup/types.js';
import { v2Driver, type V2Rejection } from '../../src/jail/cgroup/v2.js';

function driverOf(probe: CgroupDriver | V2Rejection): CgroupDriver {
  if ('rejected' in probe) throw probe.rejected;
  return probe;
}

function rejectionOf(probe: CgroupDriver | V2Rejection): CgroupDelegationError {
  if (!('rejected' in probe)) throw new Error(`v2 driver unexpectedly accepted: ${probe.roots.join(', ')}`);
  return probe.rejected;
}

const HYBRID_MOUNTINFO = `\
25 1 254:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
32 31 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
33 31 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
34 31 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,pids
37 31 0:34 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,net_cls,net_prio
`;
const HYBRID_CGROUP = `\
12:freezer:/
11:pids:/system.slice/confine.service
10:memory:/system.slice/confine.service
9:net_cls,net_prio:/
4:cpu,cpuacct:/system.slice/confine.service
1:name=systemd:/system.slice/confine.service
0::/system.slice/confine.service
`;

describe('cgroup layout parsing', () => {
  it('hybrid_host_lists_v1_controllers_and_the_empty_v2_mount', () => {
    const layout = parseCgroupLayout(HYBRID_MOUNTINFO, HYBRID_CGROUP);
    expect(layout.mounts).toEqual([
      { version: 2, mountPoint: '/sys/fs/cgroup/unified', root: '/', controllers: [] },
      { version: 1, mountPoint: '/sys/fs/cgroup/cpu,cpuacct', root: '/', controllers: ['cpu', 'cpuacct'] },
      { version: 1, mountPoint: '/sys/fs/cgroup/memory', root: '/', controllers: ['memory'] },
      { version: 1, mountPoint: '/sys/fs/cgroup/pids', root: '/', controllers: ['pids'] },
      { version: 1, mountPoint: '/sys/fs/cgroup/freezer', root: '/', controllers: ['freezer'] },
    ]);
    expect(layout.selfPaths.get('cpu,cpuacct')).toBe('/system.slice/confine.service');
    expect(layout.selfPaths.get('')).toBe('/system.slice/confine.service');
  });

  it('hybrid_host_v1_driver_places_jobs_below_the_service_cgroup', () => {
    const driver = v1Driver(parseCgroupLayout(HYBRID_MOUNTINFO, HYBRID_CGROUP), 'confine');
    expect(driver?.version).toBe(1);
    expect([...driver!.roots].sort()).toEqual([
      '/sys/fs/cgroup/cpu,cpuacct/system.slice/confine.service/confine', // cpu and cpuacct share one directory
      '/sys/fs/cgroup/freezer/confine',
      '/sys/fs/cgroup/memory/system.slice/confine.service/confine',
      '/sys/fs/cgroup/pids/system.slice/confine.service/confine',
    ]);
  });

  it('v1_driver_absent_without_freezer', () => {
    const mountinfo = HYBRID_MOUNTINFO.split('\n').filter((l) => !l.includes('freezer')).join('\n');
    expect(v1Driver(parseCgroupLayout(mountinfo, HYBRID_CGROUP), 'confine')).toBeUndefined();
  });

  it('container_mount_root_is_stripped_from_self_path', () => {
    // Inside a container the hierarchy's visible root is the container's own cgroup.
    const mountinfo = '40 31 0:33 /docker/abc /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n';
    const layout = parseCgroupLayout(mountinfo, '11:pids:/docker/abc/worker\n');
    expect(selfDirectory(layout, layout.mounts[0]!)).toBe('/sys/fs/cgroup/pids/worker');
  });

  it('this_machine_is_detected_as_it_really_is', async () => {
    const { readFile } = await import('node:fs/promises');
    const cgroupFile = await readFile('/proc/self/cgroup', 'utf8');
    const layout = parseCgroupLayout(await readFile('/proc/self/mountinfo', 'utf8'), cgroupFile);
    // Ground truth from the kernel: v1 controllers appear as "N:controller:path" lines, v2 only as "0::path".
    const hasV1Memory = /^\d+:[^:]*\bmemory\b[^:]*:/m.test(cgroupFile);
    if (hasV1Memory) {
      expect(v1Driver(layout, 'confine')?.version).toBe(1);
      // The hybrid host's v2 mount has no controllers: the refusal says so instead of vanishing.
      expect(rejectionOf(await v2Driver(layout, 'confine')).reason).toMatch(/lacks the memory, pids, cpu controllers/);
    } else {
      expect(v1Driver(layout, 'confine')).toBeUndefined();
      expect(driverOf(await v2Driver(layout, 'confine')).version).toBe(2);
    }
  });
});

describe('v2 detection on a fake unified mount', () => {
  const fake = mkdtempSync(join(tmpdir(), 'confine-cg2-'));
  afterAll(() => rmSync(fake, { recursive: true, force: true }));
  const mountinfo = `30 23 0:27 / ${fake} rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n`;

  it('v2_only_host_with_controllers_uses_v2_below_the_service', async () => {
    mkdirSync(join(fake, 'system.slice/confine.service'), { recursive: true });
    writeFileSync(join(fake, 'system.slice/confine.service/cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
    const layout = parseCgroupLayout(mountinfo, '0::/system.slice/confine.service\n');
    expect(layout.mounts).toEqual([{ version: 2, mountPoint: fake, root: '/', controllers: [] }]);
    const driver = driverOf(await v2Driver(layout, 'confine'));
    expect(driver.version).toBe(2);
    expect(driver.roots).toEqual([join(fake, 'system.slice/confine.service/confine')]);
    expect(v1Driver(layout, 'confine')).toBeUndefined();
  });

  it('v2_supervisor_leaf_is_not_nested_again', async () => {
    // After the service moved itself into confine-supervisor, jobs still go beside it, not below.
    const layout = parseCgroupLayout(mountinfo, '0::/system.slice/confine.service/confine-supervisor\n');
    const driver = driverOf(await v2Driver(layout, 'confine'));
    expect(driver.roots).toEqual([join(fake, 'system.slice/confine.service/confine')]);
  });

  it('v2_without_pids_controller_is_refused', async () => {
    mkdirSync(join(fake, 'nopids'), { recursive: true });
    writeFileSync(join(fake, 'nopids/cgroup.controllers'), 'cpu memory\n');
    const rejected = rejectionOf(await v2Driver(parseCgroupLayout(mountinfo, '0::/nopids\n'), 'confine'));
    expect(rejected.reason).toBe('cgroup /nopids lacks the pids controller (available: cpu memory): its parent does not delegate them (systemd enables them for a unit with Delegate=yes)');
    expect(rejected.message).toContain(DELEGATION_ADVICE);
  });

  it('v2_login_session_scope_is_refused_with_what_to_do', async () => {
    // A CLI typed in an ssh or console login runs here; systemd never delegates it, even with controllers on.
    const scope = 'user.slice/user-1000.slice/session-4.scope';
    mkdirSync(join(fake, scope), { recursive: true });
    writeFileSync(join(fake, scope, 'cgroup.controllers'), 'cpu io memory pids\n');
    writeFileSync(join(fake, scope, 'cgroup.type'), 'domain\n');
    const rejected = rejectionOf(await v2Driver(parseCgroupLayout(mountinfo, `0::/${scope}\n`), 'confine'));
    expect(rejected.reason).toContain('login session scope /user.slice/user-1000.slice/session-4.scope');
    expect(rejected.message).toContain('systemd-run --scope -p Delegate=yes confine');
  });

  it('v2_delegated_transient_scope_is_accepted', async () => {
    // What `systemd-run --scope -p Delegate=yes confine ...` creates: a scope that is not a login session.
    const scope = 'system.slice/run-r42.scope';
    mkdirSync(join(fake, scope), { recursive: true });
    writeFileSync(join(fake, scope, 'cgroup.controllers'), 'cpu io memory pids\n');
    expect(driverOf(await v2Driver(parseCgroupLayout(mountinfo, `0::/${scope}\n`), 'confine')).roots).toEqual([join(fake, scope, 'confine')]);
  });
});
