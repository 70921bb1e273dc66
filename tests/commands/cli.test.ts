// End to end through bin/confine. "Starts no jail" is observed from outside the process: strace records
// every execve of the CLI's whole process tree, and a rejected command must exec no bwrap, no launcher
// (setpriv/prlimit) and no mount (no workspace) — while the accepted control run execs all of them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_STATE_DIR, TEST_UID_BASE } from '../support/jail.js';

const CLI = resolve(process.env.CONFINE_CLI ?? 'bin/confine');
const ENV = { ...process.env, CONFINE_STATE_DIR: TEST_STATE_DIR, CONFINE_UID_BASE: String(TEST_UID_BASE), CONFINE_UID_COUNT: '512', NO_COLOR: '1' };
const work = mkdtempSync(join(tmpdir(), 'confine-cli-'));

interface Traced {
  status: number | null;
  stdout: string;
  stderr: string;
  programs: string[];
}

function traced(args: string[]): Traced {
  const trace = join(work, `trace-${Math.random().toString(16).slice(2)}`);
  const run = spawnSync('strace', ['-f', '-qq', '-e', 'trace=execve', '-o', trace, CLI, ...args], { env: ENV, encoding: 'utf8', timeout: 120_000 });
  const programs = [...readFileSync(trace, 'utf8').matchAll(/execve\("([^"]+)"/g)].map((m) => m[1]!.split('/').pop()!);
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, programs };
}

function cli(args: string[]) {
  return spawnSync(CLI, args, { env: ENV, encoding: 'utf8', timeout: 120_000 });
}

beforeAll(() => {
  // bin/confine builds dist/ when sources changed; do it outside the traced runs.
  const build = cli(['--help']);
  expect(build.status, build.stderr).toBe(0);
}, 300_000);

describe('confine exec', () => {
  it('echo_hello_prints_hello_in_a_jail', () => {
    const run = traced(['exec', '--', 'echo', 'hello']);
    expect(run.status).toBe(0);
    expect(run.stdout.split('\n')[0]).toBe('hello');
    expect(run.programs).toEqual(expect.arrayContaining(['bwrap', 'setpriv', 'mount', 'echo']));
  });

  it('separator_argument_rejected_without_jail', () => {
    const run = traced(['exec', '--', 'echo', 'a', ';', 'rm', '-rf', '/']);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('security_violation: ');
    expect(run.stderr).toContain('";"');
    expect(run.stdout).toBe('');
    for (const program of ['bwrap', 'setpriv', 'prlimit', 'mount', 'echo', 'rm']) expect(run.programs).not.toContain(program);
  });

  it('wget_rejected_without_jail', () => {
    const run = traced(['exec', '--', 'wget', 'x']);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('security_violation: ');
    expect(run.stderr).toContain('"wget"');
    for (const program of ['bwrap', 'setpriv', 'prlimit', 'mount', 'wget']) expect(run.programs).not.toContain(program);
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
