// The jail-level attack catalogue (tests/attack/catalogue.ts), one real attack per test, each asserting
// the exact outcome, and after every test: nothing of the run is left on the host.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_WORKSPACE_INODES, type JailHost } from '../../src/jail/host.js';
import { ATTACKS, CONTROLS, type AttackCase } from '../attack/catalogue.js';
import { parseAttackLine } from '../support/attack.js';
import { testHost } from '../support/jail.js';
import { leftovers, NOTHING_LEFT, waitForNoZombies } from './helpers/leftovers.js';
import { mismatches, runAttack, type AttackRun } from './helpers/run-attack.js';

let host: JailHost;
const uids = new Set<number>();

beforeAll(async () => {
  host = await testHost();
});

afterEach(async () => {
  expect(await leftovers(host, process.pid, uids)).toEqual(NOTHING_LEFT);
});

afterAll(async () => {
  expect(await waitForNoZombies(uids, host.config.stateDir)).toEqual([]);
});

async function attack(entry: AttackCase): Promise<AttackRun> {
  const run = await runAttack(host, entry, (uid) => uids.add(uid));
  expect(mismatches(entry, run)).toEqual([]);
  expect(run.hostUid).toBeGreaterThan(0);
  return run;
}

const byName = new Map(ATTACKS.map((a) => [a.name, a]));
const named = (name: string): AttackCase => {
  const entry = byName.get(name);
  if (!entry) throw new Error(`no catalogue entry ${name}`);
  return entry;
};

describe('jail containment: catalogue', () => {
  for (const entry of [...ATTACKS, ...CONTROLS]) {
    it(entry.name, async () => {
      await attack(entry);
    });
  }
});

describe('jail containment: limits read from the spec', () => {
  it('fill_tmp_stops_at_the_tmpfs_quota', async () => {
    const { spec, result } = await attack(named('fill_tmp_fails_enospc'));
    const written = Number(parseAttackLine(result.stdout).written);
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThanOrEqual(spec.limits.tmpfsBytes);
  });

  it('inode_flood_stops_below_the_workspace_inode_count', async () => {
    const { result } = await attack(named('inode_flood_fails_at_the_inode_quota'));
    const created = Number(/created=(\d+)/.exec(result.stdout)![1]);
    expect(created).toBeGreaterThan(100);
    expect(created).toBeLessThan(DEFAULT_WORKSPACE_INODES);
  });

  it('stdout_flood_keeps_exactly_the_cap', async () => {
    const { spec, result } = await attack(named('stdout_flood_ends_output_limit'));
    expect(Buffer.byteLength(result.stdout)).toBe(spec.limits.stdoutBytes);
    expect(result.stderr_truncated).toBe(false);
  });

  it('stderr_flood_keeps_exactly_the_cap', async () => {
    const { spec, result } = await attack(named('stderr_flood_ends_output_limit'));
    expect(Buffer.byteLength(result.stderr)).toBe(spec.limits.stderrBytes);
    expect(result.stdout_truncated).toBe(false);
  });

  it('open_files_stop_at_the_nofile_limit', async () => {
    const { spec, result } = await attack(named('thousands_of_open_files_fail_emfile'));
    expect(Number(parseAttackLine(result.stdout).opened)).toBe(spec.limits.openFiles - 3);
  });

  it('memory_bomb_peak_stays_within_the_memory_limit', async () => {
    const { spec, result } = await attack(named('memory_bomb_ends_memory_limit'));
    expect(result.peak_memory_bytes).toBeGreaterThan(0);
    expect(result.peak_memory_bytes).toBeLessThanOrEqual(spec.limits.memoryBytes);
  });

  it('sleep_past_wall_time_is_stopped_near_the_wall_limit', async () => {
    const { spec, result } = await attack(named('sleep_past_wall_time_ends_timeout'));
    expect(result.wall_ms).toBeLessThan(spec.limits.wallTimeMs + 5_000);
  });

  it('fork_bomb_ends_within_its_wall_limit', async () => {
    const { spec, result } = await attack(named('fork_bomb_ends_pids_limit'));
    expect(result.wall_ms).toBeLessThan(spec.limits.wallTimeMs + 5_000);
  });
});
