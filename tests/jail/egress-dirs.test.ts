// Egress proxy socket directories (issue 11) left by a service or CLI that died mid-plan: each run's
// directory carries its owner identity, and JailHost.open removes dead owners' directories and keeps a
// live owner's (a CLI and a service may share a state dir, and the other's run may be using its socket).
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openEgress } from '../../src/domains/terraform/egress-step.js';
import { checkEgressSocketRoom, EGRESS_DIR } from '../../src/jail/egress-dirs.js';
import { JailHost } from '../../src/jail/host.js';
import { isStale, ownerOf, SELF, SELF_OWNER } from '../../src/jail/liveness.js';
import { REAL } from '../egress/support.js';
import { TEST_UID_BASE } from '../support/jail.js';
import { testConfig } from '../terraform/support/runner.js';

const UID_BASE = TEST_UID_BASE + 310_000;
const GROUP = 'confine-egress-dirs-test';
/** A predecessor with this very pid, started earlier: dead. */
const DEAD = ownerOf({ ...SELF, startTicks: String(Math.max(1, Number(SELF.startTicks) - 5_000)) });

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function stateDir(): string {
  const dir = mkdtempSync('/tmp/confine-egress-dirs-');
  chmodSync(dir, 0o711);
  scratch.push(dir);
  return dir;
}

/** A run directory as a proxy leaves it: the directory and its socket path (a file stands in for it). */
function plant(root: string, name: string): string {
  const dir = join(root, EGRESS_DIR, name);
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  writeFileSync(join(dir, 'proxy.sock'), '');
  return dir;
}

describe('egress socket directories', () => {
  it('dead_owners_egress_dirs_removed_at_open_live_owners_kept', async () => {
    const root = stateDir();
    // Another live process sharing the state dir (a CLI beside the service): its own identity, not ours.
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const otherStat = readFileSync(`/proc/${other.pid}/stat`, 'utf8');
      const otherOwner = ownerOf({ ...SELF, pid: other.pid!, startTicks: otherStat.slice(otherStat.lastIndexOf(')') + 2).split(' ')[19]! });
      expect(isStale(`${otherOwner}-x`)).toBe(false);
      const dead = plant(root, `${DEAD}-0123456789abcdef01234567`);
      const live = plant(root, `${otherOwner}-89abcdef0123456789abcdef`);
      const mine = plant(root, `${SELF_OWNER}-fedcba9876543210fedcba98`);
      const foreign = plant(root, 'not-a-confine-name');

      const host = await JailHost.open({ stateDir: root, uidBase: UID_BASE, uidCount: 4, cgroupGroup: GROUP });
      try {
        expect(existsSync(dead)).toBe(false);
        for (const kept of [live, mine, foreign]) expect(existsSync(join(kept, 'proxy.sock')), kept).toBe(true);
        // A later sweep (the same instance) finds nothing more to take.
        expect((await host.sweep()).egressDirs).toEqual([]);
      } finally {
        await host.close();
      }
      // Once the other process is gone, the next open takes its directory too.
      other.kill('SIGKILL');
      await new Promise((resolve) => other.once('exit', resolve));
      const next = await JailHost.open({ stateDir: root, uidBase: UID_BASE, uidCount: 4, cgroupGroup: GROUP });
      await next.close();
      expect(readdirSync(join(root, EGRESS_DIR)).sort()).toEqual([basename(foreign), basename(mine)].sort());
    } finally {
      other.kill('SIGKILL');
    }
  }, 60_000);

  it('a_runs_egress_dir_is_named_for_its_owner_and_removed_on_close', async () => {
    const root = stateDir();
    let socketPath = '';
    const egress = await openEgress({
      doors: {
        openDoor: (options) => {
          socketPath = options.socketPath;
          return Promise.resolve({ netnsPath: '/proc/self/ns/net', close: () => Promise.resolve() });
        },
      },
      stateDir: root,
      config: testConfig({ TF_EGRESS: 'aws' }).egress,
      credentials: REAL,
      owner: { uid: process.getuid!(), gid: process.getgid!() },
    });
    const dir = dirname(socketPath);
    expect(dirname(dir)).toBe(join(root, EGRESS_DIR));
    expect(basename(dir)).toMatch(new RegExp(`^${SELF_OWNER.replaceAll('.', '\\.')}-[0-9a-f]{16}$`));
    expect(existsSync(socketPath)).toBe(true);
    // Under the default state dir the socket path still fits sun_path (107 bytes), with room to spare.
    expect('/var/lib/confine'.length + socketPath.length - root.length).toBeLessThanOrEqual(100);
    await egress.close();
    expect(existsSync(dir)).toBe(false);
  });
});

describe('egress socket room', () => {
  it('state_dir_too_long_for_the_socket_path_is_refused_at_runner_creation_naming_the_setting', async () => {
    const { createTerraformRunner } = await import('../../src/domains/terraform/index.js');
    const long = `/tmp/${'d'.repeat(80)}`;
    const host = { stateDir: long } as unknown as Parameters<typeof createTerraformRunner>[0];
    const config = { ...testConfig(), stateDir: long, egress: { ...testConfig().egress, mode: 'aws' as const } };
    expect(() => createTerraformRunner(host, config)).toThrow(/CONFINE_STATE_DIR .* bytes too long for the egress proxy's unix socket paths/);
    // Egress off: the same state dir is fine (no socket is ever made).
    expect(() => createTerraformRunner(host, { ...config, egress: { ...config.egress, mode: 'off' as const } })).not.toThrow();
    // The default state dir has room.
    expect(() => checkEgressSocketRoom('/var/lib/confine')).not.toThrow();
  });
});
