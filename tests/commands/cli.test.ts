// End to end through bin/confine. "Starts no jail" is observed from outside the CLI process, twice:
// - its state directory (fresh per traced run): a jail needs a leased uid (`identities/`) and a workspace
//   (`workspaces/`); a rejected command must create neither, while the accepted control run creates both;
// - where strace is installed, every execve of the CLI's process tree: a rejected command execs no bwrap,
//   no jail agent and no mount, while the accepted control run execs the agent, bwrap and the program.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findExecutable } from '../../src/jail/host-tools.js';
import { TEST_STATE_DIR, TEST_UID_BASE } from '../support/jail.js';

const CLI = resolve(process.env.CONFINE_CLI ?? 'bin/confine');
const ENV = { ...process.env, CONFINE_STATE_DIR: TEST_STATE_DIR, CONFINE_UID_BASE: String(TEST_UID_BASE), CONFINE_UID_COUNT: '512', NO_COLOR: '1' };
// Traced runs get their own state directory, so their uids come from a range no other test leases.
const TRACED_UID_BASE = TEST_UID_BASE + 200_000;
const STRACE = findExecutable('strace');
const work = mkdtempSync(join(tmpdir(), 'confine-cli-'));
chmodSync(work, 0o711); // the jail's unprivileged uid must traverse it to reach a traced run's workspaces

interface Traced {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Basenames of every program the CLI's process tree executed (empty without strace). */
  programs: string[];
  leasedUid: boolean;
  createdWorkspace: boolean;
}

function traced(args: string[]): Traced {
  const id = Math.random().toString(16).slice(2);
  const stateDir = join(work, `state-${id}`);
  const trace = join(work, `trace-${id}`);
  const env = { ...ENV, CONFINE_STATE_DIR: stateDir, CONFINE_UID_BASE: String(TRACED_UID_BASE), CONFINE_UID_COUNT: '64' };
  const [program, argv] = STRACE ? [STRACE, ['-f', '-qq', '-e', 'trace=execve', '-o', trace, CLI, ...args]] : [CLI, args];
  const run = spawnSync(program, argv, { env, encoding: 'utf8', timeout: 120_000 });
  const programs = STRACE ? [...readFileSync(trace, 'utf8').matchAll(/execve\("([^"]+)"/g)].map((m) => m[1]!.split('/').pop()!) : [];
  return {
    status: run.status,
    stdout: run.stdout,
    stderr: run.stderr,
    programs,
    leasedUid: existsSync(join(stateDir, 'identities')),
    createdWorkspace: existsSync(join(stateDir, 'workspaces')),
  };
}

function expectNoJail(run: Traced, programs: string[]): void {
  expect(run.leasedUid).toBe(false);
  expect(run.createdWorkspace).toBe(false);
  for (const program of ['bwrap', 'confine-jail-agent', 'setpriv', 'prlimit', 'mount', ...programs]) expect(run.programs).not.toContain(program);
}

function cli(args: string[]) {
  return spawnSync(CLI, args, { env: ENV, encoding: 'utf8', timeout: 120_000 });
}

beforeAll(() => {
  // bin/confine builds dist/ when sources changed; do it outside the traced runs.
  const build = cli(['--help']);
  expect(build.status, build.stderr).toBe(0);
}, 300_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('confine exec', () => {
  it('echo_hello_prints_hello_in_a_jail', () => {
    const run = traced(['exec', '--', 'echo', 'hello']);
    expect(run.status).toBe(0);
    expect(run.stdout.split('\n')[0]).toBe('hello');
    expect(run.leasedUid).toBe(true);
    expect(run.createdWorkspace).toBe(true);
    if (STRACE) expect(run.programs).toEqual(expect.arrayContaining(['confine-jail-agent', 'bwrap', 'echo']));
  });

  it('separator_argument_rejected_without_jail', () => {
    const run = traced(['exec', '--', 'echo', 'a', ';', 'rm', '-rf', '/']);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('security_violation: ');
    expect(run.stderr).toContain('";"');
    expect(run.stdout).toBe('');
    expectNoJail(run, ['echo', 'rm']);
  });

  it('wget_rejected_without_jail', () => {
    const run = traced(['exec', '--', 'wget', 'x']);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('security_violation: ');
    expect(run.stderr).toContain('"wget"');
    expectNoJail(run, ['wget']);
  });

  it('json_rejection_has_null_run', () => {
    const run = cli(['exec', '--json', '--', 'wget', 'x']);
    expect(run.status).not.toBe(0);
    const result = JSON.parse(run.stdout) as { status: string; error: { type: string; message: string }; run: unknown };
    expect(result.status).toBe('failed');
    expect(result.error.type).toBe('security_violation');
    expect(result.run).toBeNull();
  });

  it('exit_status_mirrors_jailed_command', () => {
    const run = cli(['exec', '--json', '--', 'ls', 'does-not-exist']);
    expect(run.status).toBe(2);
    expect(JSON.parse(run.stdout).run.exit_code).toBe(2);
  });

  it('files_stdin_cwd_and_allow_reach_the_jail', () => {
    const input = join(work, 'input.txt');
    const stdin = join(work, 'stdin.txt');
    writeFileSync(input, 'from a file\n');
    writeFileSync(stdin, 'from stdin\n');
    const fromFile = cli(['exec', '--file', 'sub/in.txt=' + input, '--cwd', 'sub', '--', 'cat', 'in.txt']);
    expect(fromFile.status).toBe(0);
    expect(fromFile.stdout).toContain('from a file\n');
    const fromStdin = cli(['exec', '--stdin', stdin, '--allow', 'cat', '--', 'cat']);
    expect(fromStdin.stdout).toContain('from stdin\n');
    const notAllowed = cli(['exec', '--allow', 'cat', '--', 'echo', 'x']);
    expect(notAllowed.status).toBe(126);
    expect(notAllowed.stderr).toContain('security_violation: ');
  });

  it('script_runs_with_only_allowed_programs', () => {
    const script = join(work, 'probe.sh');
    writeFileSync(script, 'ls /usr/bin\nwget -q x 2>/tmp/e; echo "wget=$?"\n');
    const run = cli(['exec', '--json', '--allow', 'sh,ls', '--script', script]);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).run.stdout).toBe('ls\nsh\nwget=127\n');
  });

  it('timeout_above_maximum_rejected_with_named_limit', () => {
    const run = cli(['exec', '--timeout', '100000', '--', 'echo', 'x']);
    expect(run.status).toBe(126);
    expect(run.stderr).toContain('validation_error: timeout_seconds 100000 exceeds the operator maximum of 300');
  });

  it('quoting_survives_the_cli', () => {
    const run = cli(['exec', '--json', '--', 'echo', "it's", '*', '$HOME', '']);
    expect(JSON.parse(run.stdout).run.stdout).toBe("it's * $HOME \n");
  });
});
