// A service that dies (SIGKILL) leaves its session workspaces mounted; the next start (JailHost.open /
// sweep) must unmount them. Session workspaces are host workspaces named after their owner pid, so the
// host's sweep recognises a dead owner's.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JailHost } from '../../src/jail/host.js';
import { TEST_STATE_DIR, TEST_UID_BASE } from '../support/jail.js';

function mounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === path);
}

describe('crash recovery', () => {
  it('sessionWorkspace_ofAKilledService_isUnmountedAtNextStart', async () => {
    const child = spawn(join('node_modules', '.bin', 'vite-node'), [join('tests', 'sessions', 'fixtures', 'crashing-service.ts'), TEST_STATE_DIR, String(TEST_UID_BASE)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const newline = out.indexOf('\n');
        if (newline >= 0) resolve(out.slice(0, newline));
      });
      child.once('exit', (code) => reject(new Error(`child exited ${code}: ${stderr}`)));
    });
    const { exit, hostPath } = JSON.parse(line) as { exit: number; hostPath: string };
    expect(exit).toBe(0);
    const mountPath = dirname(hostPath);
    expect(mounted(mountPath)).toBe(true);

    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(mounted(mountPath)).toBe(true); // nothing cleaned up after a SIGKILL

    // The next start: opening a host sweeps dead owners' leftovers before the first run.
    await JailHost.open({ stateDir: TEST_STATE_DIR, uidBase: TEST_UID_BASE, uidCount: 512 });
    expect(mounted(mountPath)).toBe(false);
    expect(existsSync(mountPath)).toBe(false);
  }, 120_000);
});
