// The CFS quota is written when it can bind and left unlimited when it cannot (it would only throttle).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { cpuQuotaUs } from '../../src/jail/cgroup/cpu-quota.js';
import { ownedName } from '../../src/jail/liveness.js';
import { testHost } from '../support/jail.js';

describe('cpu quota', () => {
  it('quota_below_host_cpus_is_cores_times_period', () => {
    expect(cpuQuotaUs(0.5, 2)).toBe(50_000);
    expect(cpuQuotaUs(1, 4)).toBe(100_000);
    expect(cpuQuotaUs(0.001, 2)).toBe(1000); // the kernel's minimum
  });

  it('quota_at_or_above_host_cpus_is_none', () => {
    expect(cpuQuotaUs(2, 2)).toBeUndefined();
    expect(cpuQuotaUs(8, 2)).toBeUndefined();
  });

  it('job_cgroup_gets_the_quota_only_when_it_can_bind', async () => {
    const host = await testHost();
    const name = ownedName(`quota-${Date.now()}`);
    const file = host.cgroups.version === 1 ? 'cpu.cfs_quota_us' : 'cpu.max';
    const read = async (group: { procsFiles: readonly string[] }): Promise<string> => {
      // The cpu hierarchy's directory is the one holding the quota file (mounts may combine cpu,cpuacct).
      const values = await Promise.all(group.procsFiles.map((p) => readFile(join(dirname(p), file), 'utf8').catch(() => undefined)));
      const found = values.filter((v): v is string => v !== undefined);
      expect(found).toHaveLength(1);
      return found[0]!.trim();
    };
    const half = await host.cgroups.create(`${name}-a`, { memoryBytes: 64 * 1024 * 1024, maxPids: 8, cpuCores: 0.5 });
    const all = await host.cgroups.create(`${name}-b`, { memoryBytes: 64 * 1024 * 1024, maxPids: 8, cpuCores: availableParallelism() });
    try {
      expect(await read(half)).toBe(host.cgroups.version === 1 ? '50000' : '50000 100000');
      expect(await read(all)).toBe(host.cgroups.version === 1 ? '-1' : 'max 100000');
    } finally {
      await half.remove();
      await all.remove();
    }
  });
});
