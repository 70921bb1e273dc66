// The "done when" through the real CLI: `bin/confine exec --json --script FILE`.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JailHost } from '../../src/jail/host.js';
import type { RunResult } from '../../src/jail/spec.js';
import { TEST_STATE_DIR, TEST_UID_BASE, testHost } from '../support/jail.js';
import { leftovers, NOTHING_LEFT, waitForNoZombies } from './helpers/leftovers.js';

const CLI = resolve(import.meta.dirname, '../../bin/confine');
// A uid range only this file's CLI runs use, so "no process of a jail uid" cannot see other suites' jails.
const CLI_UID_BASE = TEST_UID_BASE + 100_000;
const CLI_UID_COUNT = 16;
const cliUids = new Set(Array.from({ length: CLI_UID_COUNT }, (_, i) => CLI_UID_BASE + i));

let host: JailHost;
let dir: string;
const cliPids: number[] = [];

beforeAll(async () => {
  host = await testHost();
  dir = mkdtempSync(join(TEST_STATE_DIR, 'cli-'));
});

afterEach(async () => {
  for (const pid of cliPids.splice(0)) expect(await leftovers(host, pid, cliUids)).toEqual(NOTHING_LEFT);
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  expect(await waitForNoZombies(cliUids)).toEqual([]);
});

function exec(script: string, args: string[]): Promise<{ status: number; result: RunResult; elapsedMs: number }> {
  const file = join(dir, `script-${cliPids.length}-${Date.now()}.sh`);
  writeFileSync(file, script);
  const env = {
    ...process.env,
    CONFINE_STATE_DIR: TEST_STATE_DIR,
    CONFINE_UID_BASE: String(CLI_UID_BASE),
    CONFINE_UID_COUNT: String(CLI_UID_COUNT),
  };
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = execFile(CLI, ['exec', '--json', '--script', file, ...args], { env, timeout: 120_000 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      try {
        // `exec --json` prints the commands domain's CommandResult: { status, error, run: RunResult }.
        const printed = JSON.parse(stdout) as { run: RunResult | null };
        if (!printed.run) throw new Error(`no run in ${stdout}`);
        done({ status, result: printed.run, elapsedMs: Date.now() - started });
      } catch {
        fail(new Error(`confine exec printed no JSON (status ${status}): ${stdout}\n${stderr}`));
      }
    });
    cliPids.push(child.pid!);
  });
}

describe('confine exec (real CLI)', () => {
  it('fork_bomb_via_cli_ends_pids_limit_within_wall_limit', async () => {
    const timeoutSeconds = 10;
    const { status, result } = await exec('f() { f | f; }; f\n', ['--pids', '16', '--timeout', String(timeoutSeconds)]);
    expect(['pids_limit', 'timeout']).toContain(result.exit_reason);
    expect(result.wall_ms).toBeLessThanOrEqual(timeoutSeconds * 1000 + 5_000);
    expect(status).not.toBe(0);
  });

  it('memory_bomb_via_cli_ends_memory_limit', async () => {
    const memoryMiB = 64;
    const { status, result } = await exec('x=aaaaaaaaaaaaaaaa; while :; do x="$x$x"; done\n', ['--memory', String(memoryMiB), '--timeout', '20']);
    expect(result.exit_reason, JSON.stringify(result)).toBe('memory_limit'); // the whole result when it is not
    expect(result.peak_memory_bytes).toBeLessThanOrEqual(memoryMiB * 1024 * 1024);
    expect(status).not.toBe(0);
  });

  it('benign_script_via_cli_exits_0', async () => {
    const { status, result } = await exec('echo hello from the jail\n', ['--timeout', '5']);
    expect(result).toMatchObject({ exit_reason: 'exited', exit_code: 0, stdout: 'hello from the jail\n' });
    expect(status).toBe(0);
  });
});
