// JailHostConfig.launcherPool + workspacePool + asyncCleanup (the fast configuration the benchmark
// measures): the whole attack catalogue again, through pre-entered launchers, with the same expected
// outcomes; plus what is special about warm launches. Leftovers are checked once background cleanup and
// the pools are released (close()).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JailHost } from '../../src/jail/host.js';
import { shellSpec } from '../../src/jail/profiles/shell.js';
import { ATTACKS, CONTROLS } from '../attack/catalogue.js';
import { ATTACK_IN_JAIL, attackMount } from '../support/attack.js';
import { TEST_STATE_DIR, TEST_UID_BASE } from '../support/jail.js';
import { leftovers, NOTHING_LEFT, processesOf, waitForNoZombies } from './helpers/leftovers.js';
import { attackLimits, mismatches, profileFor, runAttack } from './helpers/run-attack.js';

const uids = new Set<number>();
let host: JailHost;

beforeAll(async () => {
  host = await JailHost.open({ stateDir: TEST_STATE_DIR, uidBase: TEST_UID_BASE, uidCount: 512, workspacePool: 1, launcherPool: 2, asyncCleanup: true });
});

afterAll(async () => {
  await host.ready(); // rejects if any background cleanup failed
  await host.close();
  expect(await leftovers(host, process.pid, uids)).toEqual(NOTHING_LEFT);
  expect(await waitForNoZombies(uids, host.config.stateDir)).toEqual([]);
});

describe('warm launchers: catalogue', () => {
  for (const entry of [...ATTACKS, ...CONTROLS]) {
    it(`warm_${entry.name}`, async () => {
      const run = await runAttack(host, entry, (uid) => uids.add(uid));
      expect(mismatches(entry, run)).toEqual([]);
      // The result may come before the unmount, never before the jail's processes are gone.
      expect((await processesOf(new Set([run.hostUid]))).live).toEqual([]);
    });
  }
});

describe('warm launchers: specifics', () => {
  it('nul_byte_in_an_argument_is_refused_before_launch', async () => {
    const profile = await profileFor(host);
    const spec = shellSpec(profile, { command: { argv: [ATTACK_IN_JAIL, 'ids\0--bind\0/\0/host'] }, limits: attackLimits(), extraMounts: [attackMount()] });
    await expect(host.run(spec)).rejects.toThrow(/NUL byte/);
  });

  it('stdin_reaches_the_jail_and_absent_stdin_is_end_of_file', async () => {
    const profile = await profileFor(host, ['cat']);
    const run = (stdin?: string) =>
      host.run(shellSpec(profile, { command: { argv: ['cat'] }, limits: attackLimits(), ...(stdin === undefined ? {} : { stdin }) }), undefined, {
        onStart: (info) => void uids.add(info.hostUid),
      });
    expect((await run('from stdin\n')).stdout).toBe('from stdin\n');
    const none = await run();
    expect(none).toMatchObject({ exit_reason: 'exited', exit_code: 0, stdout: '' });
  });

  it('limits_are_those_of_the_run_not_the_idle_launcher', async () => {
    const profile = await profileFor(host);
    const spec = shellSpec(profile, { command: { script: 'f() { f | f; }; f' }, limits: attackLimits({ maxPids: 8 }), extraMounts: [attackMount()] });
    const result = await host.run(spec, undefined, { onStart: (info) => void uids.add(info.hostUid) });
    expect(['pids_limit', 'timeout']).toContain(result.exit_reason);
  });
});
