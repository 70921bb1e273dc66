// Stale-instance detection that survives pid reuse (issue 9 item 8). A restarted container's service gets
// its predecessor's pid (pid 1), so leftovers named after that pid looked live to `kill(pid, 0)` and were
// never swept. Here the predecessor is simulated exactly: leftovers named with THIS process's pid but
// another start time (what a killed predecessor with the same pid leaves), next to this instance's own
// live ones. Every kind the service leaves is covered: job cgroups (with a process inside), workspace
// mounts, uid leases, half-built program trees and artifact temp files.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../../src/artifacts/index.js';
import { detectCgroups } from '../../src/jail/cgroup/index.js';
import { DEFAULT_WORKSPACE_INODES, JailHost } from '../../src/jail/host.js';
import { MiB } from '../../src/jail/limits.js';
import { isOwnerAlive, isStale, ownedName, ownerOf, SELF, SELF_OWNER } from '../../src/jail/liveness.js';
import { shellSpec } from '../../src/jail/profiles/shell.js';
import { TEST_UID_BASE, limits, testShellProfile } from '../support/jail.js';

const UID_BASE = TEST_UID_BASE + 300_000;
const UID_COUNT = 16;
const CGROUP_LIMITS = { memoryBytes: 64 * MiB, maxPids: 8, cpuCores: 1 };

/** The owner a predecessor with this very pid had: same pid and boot, started earlier. */
const PREDECESSOR = ownerOf({ ...SELF, startTicks: String(Math.max(1, Number(SELF.startTicks) - 5_000)) });

const scratch: string[] = [];

function stateDir(): string {
  const dir = mkdtempSync('/tmp/confine-instance-');
  chmodSync(dir, 0o711); // the jails' uids traverse it (mkdtemp makes 0700)
  scratch.push(dir);
  return dir;
}

function mounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === path);
}

function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

afterAll(() => {
  for (const dir of scratch) {
    const workspaces = join(dir, 'workspaces');
    const names = existsSync(workspaces) ? readdirSync(workspaces, { withFileTypes: true }).filter((e) => e.isDirectory()) : [];
    for (const name of names) {
      const path = join(dir, 'workspaces', name.name);
      if (mounted(path)) execFileSync('umount', [path]);
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('owner identity', () => {
  it('owner_of_this_process_isAlive_andTheSamePidWithAnotherStartTime_isNot', () => {
    expect(SELF_OWNER).toMatch(new RegExp(`^${process.pid}\\.\\d+\\.[0-9a-f]{8}\\.\\d+$`));
    expect(isOwnerAlive(SELF_OWNER)).toBe(true);
    expect(isOwnerAlive(PREDECESSOR)).toBe(false);
    expect(isOwnerAlive(ownerOf({ ...SELF, boot: SELF.boot === '00000000' ? '11111111' : '00000000' }))).toBe(false); // another boot
    expect(isStale(ownedName('abc'))).toBe(false);
    expect(isStale(`${PREDECESSOR}-abc`)).toBe(true);
    // Names of an older confine carry a bare pid: under this process's own pid they are a predecessor's.
    expect(isStale(`${process.pid}-abc`)).toBe(true);
    expect(isStale('1-abc')).toBe(false); // pid 1 lives (it is not this process)
    expect(isStale('confine-supervisor')).toBe(false); // not a name the service makes
  });

  it('owner_inAnotherPidNamespace_isAliveWhileThatNamespaceHasAProcess_andGoneAfter', async () => {
    // A pid means nothing outside its namespace: such an owner is judged by whether its namespace lives.
    const outer = spawn('unshare', ['--pid', '--fork', 'sleep', '60'], { stdio: 'ignore' });
    const outerExit = new Promise((resolve) => outer.once('exit', resolve));
    try {
      let inner: number | undefined;
      for (let i = 0; i < 500 && inner === undefined; i++) {
        const children = existsSync(`/proc/${outer.pid}/task/${outer.pid}/children`) ? readFileSync(`/proc/${outer.pid}/task/${outer.pid}/children`, 'utf8').trim() : '';
        if (children) inner = Number(children.split(' ')[0]);
        else await new Promise((r) => setTimeout(r, 10));
      }
      const namespace = /\[(\d+)\]/.exec(readlinkSync(`/proc/${inner}/ns/pid`))![1]!;
      expect(namespace).not.toBe(SELF.pidNamespace);
      const owner = ownerOf({ pid: 1, startTicks: '1', boot: SELF.boot, pidNamespace: namespace });
      expect(isOwnerAlive(owner)).toBe(true);
      expect(isStale(`${owner}-x`)).toBe(false);
      outer.kill('SIGKILL'); // unshare's child is the namespace's init: killing unshare leaves it orphaned,
      process.kill(inner!, 'SIGKILL'); // so kill it too; the namespace dies with its init
      await outerExit;
      for (let i = 0; i < 500 && isOwnerAlive(owner); i++) await new Promise((r) => setTimeout(r, 10));
      expect(isOwnerAlive(owner)).toBe(false);
      expect(isOwnerAlive(ownerOf({ ...SELF, pidNamespace: '1' }))).toBe(false); // a namespace no process is in
    } finally {
      outer.kill('SIGKILL');
    }
  });
});

/**
 * The dead-looking groups these tests plant are, to every other process's sweep, just as dead: they live in
 * their own job-group directory so a test file running beside this one cannot sweep them first.
 */
const GROUP = 'confine-instance-test';

describe('sweep after pid reuse', () => {
  it('predecessorWithThisPid_leftovers_areSweptAtOpen_andThisInstancesOwnStay', async () => {
    const dir = stateDir();
    const cgroups = await detectCgroups(GROUP);
    // The predecessor's job cgroup, still holding a process (a jail it never got to kill).
    const theirs = `${PREDECESSOR}-cgroup`;
    const theirGroup = await cgroups.create(theirs, CGROUP_LIMITS);
    const sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
    const sleeperExit = new Promise((resolve) => sleeper.once('exit', resolve));
    for (const file of theirGroup.procsFiles) writeFileSync(file, String(sleeper.pid));
    const ours = ownedName('cgroup');
    const ourGroup = await cgroups.create(ours, CGROUP_LIMITS);
    // Its workspace mount, its uid lease, its half-built program tree; and the same of this instance.
    const workspaces = join(dir, 'workspaces');
    const theirWorkspace = join(workspaces, `${PREDECESSOR}-ws`);
    const legacyWorkspace = join(workspaces, `${process.pid}-legacyws`);
    const ourWorkspace = join(workspaces, ownedName('ws'));
    for (const path of [theirWorkspace, legacyWorkspace, ourWorkspace]) {
      mkdirSync(path, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'confine-test-instance', path]);
    }
    mkdirSync(join(dir, 'identities'));
    writeFileSync(join(dir, 'identities', String(UID_BASE)), PREDECESSOR);
    writeFileSync(join(dir, 'identities', String(UID_BASE + 1)), String(process.pid)); // an older confine's lease
    writeFileSync(join(dir, 'identities', String(UID_BASE + 2)), SELF_OWNER);
    const trees = join(dir, 'programs');
    mkdirSync(join(trees, `.building-${PREDECESSOR}-t`, 'bin'), { recursive: true });
    mkdirSync(join(trees, `.building-${ownedName('t')}`, 'bin'), { recursive: true });

    const host = await JailHost.open({ stateDir: dir, uidBase: UID_BASE, uidCount: UID_COUNT, cgroupGroup: GROUP });
    try {
      await sleeperExit; // killed by the sweep, not left running
      expect(alive(sleeper.pid!)).toBe(false);
      expect((await cgroups.list()).filter((name) => name === theirs || name === ours)).toEqual([ours]);
      expect(mounted(theirWorkspace) || existsSync(theirWorkspace)).toBe(false);
      expect(mounted(legacyWorkspace) || existsSync(legacyWorkspace)).toBe(false);
      expect(mounted(ourWorkspace)).toBe(true);
      expect(readdirSync(join(dir, 'identities')).sort()).toEqual([String(UID_BASE + 2)]);
      expect(readdirSync(trees)).toEqual([`.building-${ownedName('t')}`]);
    } finally {
      await host.close();
      await ourGroup.remove();
      execFileSync('umount', [ourWorkspace]);
    }
  }, 60_000);

  it('sweep_whileThisInstanceRuns_removesOnlyThePredecessorsAndTheLiveWorkspaceStillRuns', async () => {
    const dir = stateDir();
    const host = await JailHost.open({ stateDir: dir, uidBase: UID_BASE, uidCount: UID_COUNT, cgroupGroup: GROUP });
    const workspace = await host.createWorkspace({ sizeBytes: 4 * MiB, maxInodes: DEFAULT_WORKSPACE_INODES });
    try {
      const theirWorkspace = join(dir, 'workspaces', `${PREDECESSOR}-ws`);
      mkdirSync(theirWorkspace);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'confine-test-instance', theirWorkspace]);
      writeFileSync(join(dir, 'identities', String(UID_BASE + UID_COUNT - 1)), PREDECESSOR);

      const report = await host.sweep();
      expect(report.workspaces).toEqual([`${PREDECESSOR}-ws`]);
      expect(report.identities).toBe(1);
      expect(mounted(theirWorkspace)).toBe(false);
      // This instance's workspace, its lease and its jails are untouched.
      expect(readFileSync(join(dir, 'identities', String(workspace.identity.uid)), 'utf8')).toBe(SELF_OWNER);
      const profile = await testShellProfile(['echo']);
      const run = await host.run(shellSpec(profile, { command: { argv: ['echo', 'still here'] }, limits: limits() }), workspace);
      expect(run.exit_reason).toBe('exited');
      expect(run.stdout).toBe('still here\n');
    } finally {
      await workspace.dispose();
      await host.close();
    }
  }, 60_000);

  it('artifactTempFiles_ofAPredecessorWithThisPid_areSwept_ownKept', async () => {
    const root = stateDir();
    const store = new LocalArtifactStore(root);
    mkdirSync(join(root, '.tmp'));
    writeFileSync(join(root, '.tmp', `${PREDECESSOR}-half`), 'half-written');
    writeFileSync(join(root, '.tmp', `${process.pid}-legacy`), 'half-written');
    writeFileSync(join(root, '.tmp', ownedName('mine')), 'in progress');
    expect(await store.sweep()).toBe(2);
    expect(readdirSync(join(root, '.tmp'))).toEqual([ownedName('mine')]);
  });
});
