// The state directory must be reachable by the jails' uids (issue 9 item 10): one below a 0700 directory
// used to start fine and then fail every run. Start-up refuses it with a message naming the directory and
// the fix, and `confine doctor --json` reports the failing check.
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JailHost } from '../../src/jail/host.js';
import { DEFAULT_LIMITS } from '../../src/jail/limits.js';
import { shellSpec } from '../../src/jail/profiles/shell.js';
import { buildShellProfile } from '../../src/jail/profiles/shell.js';
import { StateDirError } from '../../src/jail/state-dir.js';
import { TEST_UID_BASE } from '../support/jail.js';

const UID_BASE = TEST_UID_BASE + 310_000;
const ROOT = resolve(import.meta.dirname, '../..');
const closed = mkdtempSync('/tmp/confine-closed-'); // mkdtemp makes it 0700: no search for others
const stateDir = join(closed, 'state');

afterAll(() => rmSync(closed, { recursive: true, force: true }));

interface DoctorJson {
  ok: boolean;
  checks: { name: string; status: string; detail: string }[];
}

function doctor(env: Record<string, string>): Promise<{ code: number; report: DoctorJson }> {
  const viteNode = join(ROOT, 'node_modules', '.bin', 'vite-node');
  return new Promise((done, fail) => {
    execFile(viteNode, [join(ROOT, 'src', 'cli', 'main.ts'), 'doctor', '--json'], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      try {
        done({ code: error ? Number(error.code) : 0, report: JSON.parse(stdout) as DoctorJson });
      } catch {
        fail(new Error(`doctor printed no JSON: ${stdout}\n${stderr}`));
      }
    });
  });
}

describe('state directory reachability', () => {
  it('stateDirBelowA0700Directory_openRefusesNamingTheDirectoryAndTheFix', async () => {
    chmodSync(closed, 0o700);
    const opening = JailHost.open({ stateDir, uidBase: UID_BASE, uidCount: 4 });
    await expect(opening).rejects.toBeInstanceOf(StateDirError);
    await expect(opening).rejects.toThrow(new RegExp(`${closed} has mode 700 .*chmod o\\+x ${closed}.*CONFINE_STATE_DIR`));
  });

  it('stateDirBelowA0700Directory_doctorJsonReportsTheFailingCheck', async () => {
    chmodSync(closed, 0o700);
    const { code, report } = await doctor({ CONFINE_STATE_DIR: stateDir, CONFINE_UID_BASE: String(UID_BASE), CONFINE_UID_COUNT: '4' });
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.checks).toContainEqual({ name: 'state directory', status: 'fail', detail: expect.stringContaining(`${closed} has mode 700`) });
    expect(report.checks.map((c) => c.name)).not.toContain('cgroups'); // not blamed on cgroups
  }, 120_000);

  it('sameDirectoryMadeSearchable_opensAndRunsAJail', async () => {
    chmodSync(closed, 0o711);
    const host = await JailHost.open({ stateDir, uidBase: UID_BASE, uidCount: 4 });
    try {
      const profile = await buildShellProfile(['echo'], host.programSource);
      const run = await host.run(shellSpec(profile, { command: { argv: ['echo', 'reachable'] }, limits: { ...DEFAULT_LIMITS, wallTimeMs: 10_000 } }));
      expect(run.stdout).toBe('reachable\n');
    } finally {
      await host.close();
    }
  }, 60_000);
});
