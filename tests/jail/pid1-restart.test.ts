// A restarted container, for real (issue 9 item 8): the service runs as pid 1 of a fresh pid namespace,
// holds a workspace, a uid lease and a running jail, and is killed with its namespace; the next instance
// is pid 1 again. With owners judged by pid alone (`kill(1, 0)` finds the new service itself) nothing of the
// predecessor was ever swept. Meanwhile a service in another pid namespace (this test process, sharing the
// cgroup parent) must not take the live instance's leftovers for a dead one's.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_STATE_DIR, TEST_UID_BASE, testHost } from '../support/jail.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURE = join(ROOT, 'tests', 'jail', 'fixtures', 'pid1-instance.ts');
const UID_BASE = TEST_UID_BASE + 330_000;
const stateDir = join(TEST_STATE_DIR, `pid1-${process.pid}`);

afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

interface Instance {
  exited: Promise<number | null>;
  kill(): void;
  line: Promise<Record<string, unknown>>;
}

/** The fixture as pid 1 of a new pid (and mount) namespace; killing unshare kills the namespace. */
function asPid1(mode: 'hold' | 'open'): Instance {
  const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL', join(ROOT, 'node_modules', '.bin', 'vite-node'), FIXTURE, mode, stateDir, String(UID_BASE)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const line = new Promise<Record<string, unknown>>((done, fail) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const newline = out.indexOf('\n');
      if (newline >= 0) done(JSON.parse(out.slice(0, newline)) as Record<string, unknown>);
    });
    void exited.then((code) => fail(new Error(`instance exited ${code}: ${stderr}`)));
  });
  return { exited, kill: () => child.kill('SIGKILL'), line };
}

function cgroupPids(procsFiles: readonly string[]): number[] {
  return procsFiles.flatMap((file) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : []));
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

describe('restart as pid 1', () => {
  it('predecessorThatWasAlsoPid1_isSweptByTheNextPid1_andAnotherNamespacesSweepKeepsItWhileItLives', async () => {
    const first = asPid1('hold');
    const held = (await first.line) as { pid: number; workspace: string; uid: number; procsFiles: string[] };
    expect(held.pid).toBe(1);
    const workspaceDir = join(stateDir, 'workspaces', held.workspace);
    const lease = join(stateDir, 'identities', String(held.uid));
    const cgroupDirs = held.procsFiles.map((file) => dirname(file));
    expect(existsSync(workspaceDir)).toBe(true);
    expect(readFileSync(lease, 'utf8')).toMatch(/^1\.\d+\.[0-9a-f]{8}\.\d+$/);
    await until(() => cgroupPids(held.procsFiles).length > 0);
    expect(cgroupPids(held.procsFiles).length).toBeGreaterThan(0); // its jail is running

    // This process is a service in another pid namespace sharing the cgroup parent: its sweep keeps them.
    const report = await (await testHost()).sweep();
    expect(report.cgroups.filter((name) => held.procsFiles.some((file) => file.includes(`/${name}/`)))).toEqual([]);
    expect(cgroupPids(held.procsFiles).length).toBeGreaterThan(0);

    first.kill(); // the container dies: every process of its namespace with it, nothing cleaned up
    await first.exited;
    await until(() => cgroupPids(held.procsFiles).length === 0);
    expect(cgroupPids(held.procsFiles)).toEqual([]);
    expect(existsSync(workspaceDir)).toBe(true); // left behind (its mount went with the namespace)
    expect(existsSync(lease)).toBe(true);

    const second = asPid1('open');
    expect(((await second.line) as { pid: number }).pid).toBe(1);
    expect(await second.exited).toBe(0);
    expect(existsSync(workspaceDir)).toBe(false);
    expect(existsSync(lease)).toBe(false);
    expect(cgroupDirs.filter((dir) => existsSync(dir))).toEqual([]);
  }, 120_000);
});
