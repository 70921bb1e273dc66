// cgroup v2 delegation for real (runs where the hierarchy is v2: `make test-v2`'s guest, a v2 container;
// skipped on this v1 host). Each case starts a fresh node process, as a service would start, in a "unit"
// cgroup of its own made below this run's job root (which has memory, pids and cpu enabled for its
// children, as a slice does for a unit with Delegate=yes), and lets it detect and prepare its cgroups.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { freezeAndKillV2 } from '../../src/jail/cgroup/v2.js';
import { MiB } from '../../src/jail/limits.js';
import { ownedName } from '../../src/jail/liveness.js';
import { testHost } from '../support/jail.js';

const host = await testHost();
const V2 = host.cgroups.version === 2;
const DIST_CGROUPS = resolve(import.meta.dirname, '../../dist/jail/cgroup/index.js');

/** What the probe service prints: where things ended up after detectCgroups() and one job group. */
interface ProbeReport {
  roots: string[];
  helperCgroup: string;
  ownCgroup: string;
  unitProcs: string;
  unitSubtree: string;
  jobProcsFile: string;
}

// A service in miniature: it starts a helper child first (as node starts the jail agent), then detects and
// prepares its cgroups and creates one job group. Before the fix the helper stayed in the unit cgroup and
// enabling the controllers failed with EBUSY.
const PROBE = `
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
const { detectCgroups } = await import(process.env.DIST_CGROUPS);
const helper = spawn('sleep', ['60'], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 200));
const cg = (pid) => /^0::(.*)$/m.exec(readFileSync('/proc/' + pid + '/cgroup', 'utf8'))[1];
try {
  const driver = await detectCgroups();
  const unit = dirname(driver.roots[0]);
  const job = await driver.create('probe', { memoryBytes: 64 << 20, maxPids: 8, cpuCores: 1 });
  console.log(JSON.stringify({ roots: driver.roots, helperCgroup: cg(helper.pid), ownCgroup: cg(process.pid),
    unitProcs: readFileSync(join(unit, 'cgroup.procs'), 'utf8'), unitSubtree: readFileSync(join(unit, 'cgroup.subtree_control'), 'utf8').trim(),
    jobProcsFile: job.procsFiles[0] }));
  await job.remove();
} finally {
  helper.kill('SIGKILL');
}
`;

const units: string[] = [];
afterAll(async () => {
  for (const unit of units.reverse()) await removeTree(unit);
});

/** A fresh cgroup below this run's job root, standing for a unit the service manager delegated. */
function makeUnit(name: string): string {
  const unit = join(host.cgroups.roots[0]!, `${name}-${process.pid}`);
  mkdirSync(unit);
  units.push(unit);
  return unit;
}

async function removeTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) await removeTree(join(dir, entry.name));
  for (let i = 0; i < 500 && readFileSync(join(dir, 'cgroup.procs'), 'utf8') !== ''; i++) await sleep(10);
  rmdirSync(dir);
}

/** Starts `node -e PROBE` with its process in `unit` from its first instruction (a shell enters, then execs). */
function startProbe(unit: string): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn('sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec node --input-type=module -e "$1"', unit, PROBE], {
    env: { ...process.env, DIST_CGROUPS },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolveDone) =>
    child.once('close', (code) => resolveDone({ code, stdout, stderr })),
  );
  return { child, done };
}

function relative(dir: string): string {
  // /proc/<pid>/cgroup paths are relative to the hierarchy; job roots are absolute under the mount.
  return dir.replace(/^\/sys\/fs\/cgroup/, '') || '/';
}

describe.skipIf(!V2)('cgroup v2 delegation (real hierarchy)', () => {
  it('service_whose_helper_started_first_moves_both_out_of_its_unit_and_gets_job_groups', async () => {
    const unit = makeUnit('unit-probe');
    const { code, stdout, stderr } = await startProbe(unit).done;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as ProbeReport;
    expect(report.roots).toEqual([join(unit, 'confine')]);
    expect(report.ownCgroup).toBe(`${relative(unit)}/confine-supervisor`);
    expect(report.helperCgroup).toBe(`${relative(unit)}/confine-supervisor`); // the "agent" left too
    expect(report.unitProcs).toBe(''); // no internal process: that is what lets the controllers be enabled
    expect(report.unitSubtree.split(' ').sort()).toEqual(['cpu', 'memory', 'pids']);
    expect(report.jobProcsFile).toBe(join(unit, 'confine/probe/cgroup.procs'));
  });

  it('service_restarted_inside_its_supervisor_leaf_reuses_the_unit', async () => {
    // A second start (a restarted unit, or systemd's DelegateSubgroup=confine-supervisor) begins in the leaf.
    const unit = makeUnit('unit-restart');
    expect((await startProbe(unit).done).code).toBe(0);
    const again = await startProbe(join(unit, 'confine-supervisor')).done;
    expect(again.stderr).toBe('');
    expect((JSON.parse(again.stdout) as ProbeReport).roots).toEqual([join(unit, 'confine')]);
  });

  it('process_that_is_not_the_services_is_named_and_nothing_is_moved', async () => {
    const unit = makeUnit('unit-shared');
    const stranger = spawn('sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec sleep 60', unit], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !readFileSync(join(unit, 'cgroup.procs'), 'utf8').includes(String(stranger.pid)); i++) await sleep(10);
      const { code, stdout, stderr } = await startProbe(unit).done;
      expect(code).not.toBe(0);
      expect(stdout).toBe('');
      expect(stderr).toContain(`not this service's: ${stranger.pid} (sleep)`);
      expect(stderr).toContain('systemd-run --scope -p Delegate=yes');
      expect(readFileSync(join(unit, 'cgroup.procs'), 'utf8').trim().split('\n').map(Number)).toContain(stranger.pid);
      expect(readFileSync(join(unit, 'cgroup.subtree_control'), 'utf8').trim()).toBe('');
      expect(existsSync(join(unit, 'confine-supervisor'))).toBe(false);
    } finally {
      stranger.kill('SIGKILL');
    }
  });

  it('login_session_scope_is_refused_before_anything_is_created', async () => {
    const scope = makeUnit('session-7');
    const renamed = `${scope}.scope`; // systemd-logind's naming: session-N.scope
    mkdirSync(renamed);
    units.push(renamed);
    const { code, stderr } = await startProbe(renamed).done;
    expect(code).not.toBe(0);
    expect(stderr).toContain(`login session scope ${relative(renamed)}`);
    expect(stderr).toContain('systemd-run --scope -p Delegate=yes');
    expect(readdirSync(renamed, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
    expect(readFileSync(join(renamed, 'cgroup.subtree_control'), 'utf8').trim()).toBe('');
  });

  it('kill_without_cgroup_kill_that_fails_leaves_the_group_thawed_and_a_later_kill_succeeds', async () => {
    const group = await host.cgroups.create(ownedName('v2-freeze'), { memoryBytes: 64 * MiB, maxPids: 8, cpuCores: 1 });
    const dir = join(group.procsFiles[0]!, '..');
    const sleeper = spawn('sh', ['-c', 'echo $$ > "$0" && exec sleep 120', group.procsFiles[0]!], { stdio: 'ignore' });
    const exited = new Promise((resolveExit) => sleeper.once('exit', resolveExit));
    try {
      for (let i = 0; i < 100 && readFileSync(group.procsFiles[0]!, 'utf8') === ''; i++) await sleep(10);
      let frozenDuringKill = '';
      await expect(
        freezeAndKillV2(dir, () => {
          frozenDuringKill = /^frozen (\d)$/m.exec(readFileSync(join(dir, 'cgroup.events'), 'utf8'))?.[1] ?? '';
          throw new Error('kill failed');
        }),
      ).rejects.toThrow('kill failed');
      expect(frozenDuringKill).toBe('1'); // it really was frozen when the kill ran
      expect(readFileSync(join(dir, 'cgroup.freeze'), 'utf8').trim()).toBe('0');
      expect(readFileSync(join(dir, 'cgroup.events'), 'utf8')).toMatch(/^frozen 0$/m);
      await freezeAndKillV2(dir); // the real kill through the same path empties it
      await exited;
      await group.remove();
      expect(existsSync(dir)).toBe(false);
    } finally {
      sleeper.kill('SIGKILL');
      await group.remove();
    }
  }, 30_000);
});

describe.skipIf(V2)('cgroup v2 delegation on this v1 host', () => {
  it('v2_cases_run_in_make_test_v2_instead', () => {
    expect(host.cgroups.version).toBe(1); // recorded, not silent: the guest leg runs the block above
  });
});
