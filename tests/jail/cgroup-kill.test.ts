// The cgroup v1 kill path freezes a group, kills its processes, thaws it. If the kill fails (here: a kill
// function that throws, as process.kill does on an unexpected errno), the group must not stay FROZEN:
// its processes would hang forever and the group could never be removed.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freezeAndKill } from '../../src/jail/cgroup/v1.js';
import { MiB } from '../../src/jail/limits.js';
import { ownedName } from '../../src/jail/liveness.js';
import { testHost } from '../support/jail.js';

const host = await testHost();

function state(pid: number): string | undefined {
  try {
    return /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  } catch {
    return undefined; // gone
  }
}

describe('cgroup v1 kill path', () => {
  it.skipIf(host.cgroups.version !== 1)('killThatThrows_leavesTheGroupThawed_andALaterKillSucceeds', async () => {
    const group = await host.cgroups.create(ownedName('freeze-test'), { memoryBytes: 64 * MiB, maxPids: 8, cpuCores: 1 });
    const sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => sleeper.once('exit', resolve));
    try {
      for (const file of group.procsFiles) writeFileSync(file, String(sleeper.pid));
      const freezer = group.procsFiles.map((file) => join(dirname(file), 'freezer.state')).find((file) => existsSync(file))!;
      expect(freezer).toBeDefined();

      let frozenDuringKill = '';
      await expect(
        freezeAndKill(freezer, group.procsFiles, () => {
          frozenDuringKill = readFileSync(freezer, 'utf8').trim();
          throw new Error('kill failed');
        }),
      ).rejects.toThrow('kill failed');
      expect(frozenDuringKill).toBe('FROZEN'); // it really was frozen when the kill ran
      expect(readFileSync(freezer, 'utf8').trim()).toBe('THAWED');
      expect(state(sleeper.pid!)).toBe('S'); // sleeping normally, not stuck in the refrigerator

      // The group is usable: the real kill path empties it and it can be removed.
      expect(await group.killAll()).toBe(false);
      await exited;
      await group.remove();
      expect(existsSync(freezer)).toBe(false);
    } finally {
      sleeper.kill('SIGKILL');
      await group.remove();
    }
  }, 30_000);
});
