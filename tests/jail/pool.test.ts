// JailHostConfig.workspacePool: workspaces mounted ahead of demand are fresh for every run and are
// unmounted by close(); nothing of a run survives into the next one.
import { afterAll, expect, it } from 'vitest';
import { JailHost } from '../../src/jail/host.js';
import { shellSpec } from '../../src/jail/profiles/shell.js';
import { ATTACK_IN_JAIL, attackMount } from '../support/attack.js';
import { TEST_STATE_DIR, TEST_UID_BASE } from '../support/jail.js';
import { leftovers, NOTHING_LEFT } from './helpers/leftovers.js';
import { attackLimits, profileFor } from './helpers/run-attack.js';

const uids = new Set<number>();
let host: JailHost;

afterAll(async () => {
  await host.close();
  expect(await leftovers(host, process.pid, uids)).toEqual(NOTHING_LEFT);
});

it('pooled_workspaces_are_fresh_per_run_and_removed_on_close', async () => {
  host = await JailHost.open({ stateDir: TEST_STATE_DIR, uidBase: TEST_UID_BASE, uidCount: 512, workspacePool: 2 });
  const profile = await profileFor(host);
  const run = (argv: string[]) =>
    host.run(shellSpec(profile, { command: { argv: [ATTACK_IN_JAIL, ...argv] }, limits: attackLimits(), extraMounts: [attackMount()] }), undefined, {
      onStart: (info) => void uids.add(info.hostUid),
    });
  const first = await run(['write', '/workspace/left-by-first', '16']);
  expect(first.stdout).toBe('attempt=write written=16 result=ok\n');
  for (let i = 0; i < 3; i++) {
    const next = await run(['read', '/workspace/left-by-first']);
    expect(next.stdout).toBe('attempt=read errno=ENOENT\n');
  }
  expect(uids.size).toBe(4); // every run had its own workspace, hence its own uid
  const pooled = await host.workspaces.pooled();
  expect(pooled).toHaveLength(2);
  const before = await leftovers(host, process.pid, uids);
  expect(before.workspaceDirs.sort()).toEqual([...pooled].sort()); // only the ready ones remain
});
