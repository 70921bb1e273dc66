// The commands runner against real jails: argv runs without a shell, scripts see only the allowlist,
// inputs/limits are checked at the edge and a rejected request starts no jail.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/settings.js';
import { createCommandRunner } from '../../src/domains/commands/index.js';
import type { CommandRequest, CommandResult, ScriptRequest } from '../../src/domains/commands/types.js';
import { TEST_STATE_DIR, TEST_UID_BASE, testHost } from '../support/jail.js';

const DEFAULT_ALLOWED = ['cat', 'echo', 'id', 'ls', 'pwd', 'sh', 'whoami'];

function config(env: Record<string, string> = {}) {
  return loadConfig({ CONFINE_STATE_DIR: TEST_STATE_DIR, CONFINE_UID_BASE: String(TEST_UID_BASE), DEFAULT_EXEC_TIMEOUT_SECONDS: '20', ...env });
}

async function runner(env: Record<string, string> = {}) {
  const host = await testHost();
  const jails = vi.spyOn(host, 'run');
  const workspaces = vi.spyOn(host, 'createWorkspace');
  return { host, jails, workspaces, commands: createCommandRunner(host, config(env)) };
}

const command = (line: string, extra: Partial<CommandRequest> = {}): CommandRequest => ({ kind: 'command', command: line, ...extra });
const script = (text: string, extra: Partial<ScriptRequest> = {}): ScriptRequest => ({ kind: 'script', script: text, ...extra });

function expectRejected(result: CommandResult, type: string, text: string): void {
  expect(result.status).toBe('failed');
  expect(result.run).toBeNull();
  expect(result.error?.type).toBe(type);
  expect(result.error?.message).toContain(text);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('commands runner', () => {
  it('echo_hello_prints_hello', async () => {
    const { commands, jails } = await runner();
    const result = await commands.run(command('echo hello'));
    expect(result.status).toBe('succeeded');
    expect(result.error).toBeNull();
    expect(result.argv).toEqual(['echo', 'hello']);
    expect(result.run?.stdout).toBe('hello\n');
    expect(result.run?.exit_code).toBe(0);
    expect(jails).toHaveBeenCalledTimes(1);
  });

  it('quoted_operator_argument_rejected_without_jail', async () => {
    const { commands, jails, workspaces } = await runner();
    const result = await commands.run(command("echo a ';' rm -rf /"));
    expectRejected(result, 'security_violation', '";"');
    expect(jails).not.toHaveBeenCalled();
    expect(workspaces).not.toHaveBeenCalled();
  });

  it.each(['wget x', 'busybox sh', 'python3 -c "print(1)"', '/bin/sh run.sh', 'sh -c id'])('disallowed_%s_rejected_without_jail', async (line) => {
    const { commands, jails, workspaces } = await runner();
    const result = await commands.run(command(line));
    expectRejected(result, 'security_violation', 'command rejected');
    expect(jails).not.toHaveBeenCalled();
    expect(workspaces).not.toHaveBeenCalled();
  });

  it('arguments_reach_program_verbatim_without_shell', async () => {
    const { commands } = await runner();
    // A shell would glob `*` and expand `$HOME`; argv runs directly, so they arrive as typed.
    const result = await commands.run(command(`echo '*' '$HOME' "a  b" 'it'\\''s'`));
    expect(result.run?.stdout).toBe(`* $HOME a  b it's\n`);
  });

  it('failing_program_is_completed_run_without_error', async () => {
    const { commands } = await runner();
    const result = await commands.run(command('ls does-not-exist'));
    expect(result.status).toBe('failed');
    expect(result.error).toBeNull();
    expect(result.run?.exit_reason).toBe('exited');
    expect(result.run?.exit_code).toBe(2);
  });

  it('command_jail_holds_only_its_program', async () => {
    const { commands } = await runner();
    const result = await commands.run(command('ls /usr/bin'));
    expect(result.run?.stdout.split('\n').filter(Boolean)).toEqual(['ls']);
  });

  it('script_jail_lists_exactly_the_allowlist', async () => {
    const { commands } = await runner();
    const result = await commands.run(script('ls /usr/bin; echo ---; ls -a /'));
    const [bin, root] = (result.run?.stdout ?? '').split('---\n');
    expect(result.run?.exit_code).toBe(0);
    expect(bin!.split('\n').filter(Boolean)).toEqual(DEFAULT_ALLOWED);
    for (const absent of ['proc', 'sys', 'dev', 'home', 'root', 'var']) expect(root!.split('\n')).not.toContain(absent);
  });

  it('script_custom_allowlist_lists_exactly_it', async () => {
    const { commands } = await runner({ ALLOWED_COMMANDS: 'sh,echo' });
    const result = await commands.run(script('echo /usr/bin/*'));
    expect(result.run?.stdout).toBe('/usr/bin/echo /usr/bin/sh\n');
  });

  it('script_non_allowlisted_programs_do_not_exist', async () => {
    const { commands } = await runner();
    // wget, busybox and python3 exist on this host (nc may not); none may exist in the jail.
    const result = await commands.run(
      script(
        [
          'for p in wget busybox python3 nc curl gcc perl bash; do',
          // No /dev in the jail: redirect to /tmp instead of /dev/null.
          '  $p --version >/tmp/out 2>&1; echo "$p $?"',
          '  /usr/bin/$p --version >/tmp/out 2>&1; echo "/usr/bin/$p $?"',
          '  [ -e /usr/bin/$p ] || [ -e /bin/$p ] || echo "$p absent"',
          'done',
        ].join('\n'),
      ),
    );
    const out = result.run?.stdout ?? '';
    for (const p of ['wget', 'busybox', 'python3', 'nc', 'curl', 'gcc', 'perl', 'bash']) {
      expect(out).toContain(`${p} 127`);
      expect(out).toContain(`/usr/bin/${p} 127`);
      expect(out).toContain(`${p} absent`);
    }
  });

  it('script_rejected_when_sh_not_allowlisted', async () => {
    const { commands, jails } = await runner({ ALLOWED_COMMANDS: 'echo' });
    expectRejected(await commands.run(script('echo hi')), 'security_violation', 'sh is not in ALLOWED_COMMANDS');
    expect(jails).not.toHaveBeenCalled();
  });

  it('input_files_and_cwd_visible_in_jail', async () => {
    const { commands } = await runner();
    const result = await commands.run(command('cat in.txt', { files: { 'data/in.txt': 'abc', 'top.txt': 'top' }, cwd: 'data' }));
    expect(result.run?.stdout).toBe('abc');
  });

  it('sh_runs_submitted_script_file', async () => {
    const { commands } = await runner();
    const result = await commands.run(command('sh run.sh one', { files: { 'scripts/run.sh': 'echo "arg=$1"; cat ../data.txt\n', 'data.txt': 'payload' }, cwd: 'scripts' }));
    expect(result.run?.stdout).toBe('arg=one\npayload');
  });

  it('stdin_reaches_program', async () => {
    const { commands } = await runner();
    const result = await commands.run(command('cat', { stdin: 'from stdin' }));
    expect(result.run?.stdout).toBe('from stdin');
  });

  it.each([
    ['/etc/cron.d/x', 'absolute paths'],
    ['../escape', '".." leaves the workspace'],
    ['a/../../b', '".." leaves the workspace'],
    ['a//b', 'empty or "." segment'],
    ['./a', 'empty or "." segment'],
    ['a\nb', 'newline'],
    ['a\u0000b', 'NUL byte'],
  ])('input_file_path_%j_rejected_without_jail', async (path, why) => {
    const { commands, jails, workspaces } = await runner();
    expectRejected(await commands.run(command('ls', { files: { [path]: 'x' } })), 'validation_error', why);
    expect(jails).not.toHaveBeenCalled();
    expect(workspaces).not.toHaveBeenCalled();
  });

  it('input_file_count_over_limit_rejected', async () => {
    const { commands, jails } = await runner({ EXEC_MAX_INPUT_FILES: '2' });
    expectRejected(await commands.run(command('ls', { files: { a: '', b: '', c: '' } })), 'validation_error', 'the limit is 2');
    expect(jails).not.toHaveBeenCalled();
  });

  it('input_bytes_over_limit_rejected', async () => {
    const { commands, jails } = await runner({ EXEC_MAX_INPUT_BYTES: '10' });
    expectRejected(await commands.run(command('cat', { stdin: 'x'.repeat(11) })), 'validation_error', 'the limit is 10');
    expect(jails).not.toHaveBeenCalled();
  });

  it.each([
    ['../..', '".." leaves the workspace'],
    ['/etc', 'absolute paths'],
    ['missing', 'is not a directory in the workspace'],
    ['f.txt', 'is not a directory in the workspace'],
  ])('cwd_%s_rejected_without_jail', async (cwd, why) => {
    const { commands, jails } = await runner();
    expectRejected(await commands.run(command('pwd', { cwd, files: { 'f.txt': '' } })), 'validation_error', why);
    expect(jails).not.toHaveBeenCalled();
  });

  it.each([
    [{ timeout_seconds: 301 }, 'timeout_seconds 301 exceeds the operator maximum of 300'],
    [{ memory_mib: 257 }, 'memory_mib 257 exceeds the operator maximum of 256'],
    [{ max_pids: 65 }, 'max_pids 65 exceeds the operator maximum of 64'],
    [{ max_pids: 1.5 }, 'max_pids must be a positive whole number'],
    [{ timeout_seconds: -1 }, 'timeout_seconds must be a positive number'],
  ])('limit_above_operator_maximum_%j_rejected', async (limits, message) => {
    const { commands, jails } = await runner();
    expectRejected(await commands.run(command('echo x', limits)), 'validation_error', message);
    expect(jails).not.toHaveBeenCalled();
  });

  it('timeout_classified_execution_timeout', async () => {
    const { commands } = await runner();
    const result = await commands.run(script('while :; do :; done', { timeout_seconds: 1 }));
    expect(result.status).toBe('failed');
    expect(result.run?.exit_reason).toBe('timeout');
    expect(result.error?.type).toBe('execution_timeout');
    expect(result.run!.wall_ms).toBeLessThan(15_000);
  });

  it('lowered_limits_reach_the_jail_spec', async () => {
    const { commands, jails } = await runner();
    const result = await commands.run(command('echo x', { timeout_seconds: 2.5, memory_mib: 64, max_pids: 8 }));
    expect(result.status).toBe('succeeded');
    const spec = jails.mock.calls[0]![0];
    expect(spec.limits.wallTimeMs).toBe(2500);
    expect(spec.limits.memoryBytes).toBe(64 * 1024 * 1024);
    expect(spec.limits.maxPids).toBe(8);
    expect(spec.env).not.toHaveProperty('LD_PRELOAD');
    expect(spec.argv).toEqual(['/usr/bin/echo', 'x']);
  });

  it('terraform_validate_no_color_runs_in_terraform_profile', async () => {
    const { commands, jails } = await runner({ ALLOWED_COMMANDS: 'sh,echo,terraform' });
    const files = { 'main.tf': 'variable "x" {\n  type = string\n}\noutput "y" { value = var.x }\n', '.terraformrc': 'provider_installation {\n  direct {}\n}\n' };
    const ok = await commands.run(command('terraform validate -no-color', { files }));
    expect(ok.run?.stdout).toContain('Success! The configuration is valid.');
    expect(ok.status).toBe('succeeded');
    const spec = jails.mock.calls[0]![0];
    expect(spec.seccompProfile).toBe('terraform');
    expect(spec.env.TF_CLI_CONFIG_FILE).toBe('/confine/terraform.rc');
    const bad = await commands.run(command('terraform validate -no-color', { files: { 'main.tf': 'variable "x" {\n  type = strin\n}\n' } }));
    expect(bad.run?.exit_code).toBe(1);
    expect(bad.run?.stderr).toContain('Invalid type specification');
    expect(bad.error).toBeNull();
  });

  it('operator_rules_file_applies_to_runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'confine-rules-'));
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, 'commands:\n  cat: { options: [-n], operands: paths, maxArgs: 2 }\n');
    const { commands, jails } = await runner({ COMMAND_RULES_FILE: file });
    const ok = await commands.run(command('cat -n f.txt', { files: { 'f.txt': 'line\n' } }));
    expect(ok.run?.stdout).toBe('     1\tline\n');
    expectRejected(await commands.run(command('cat /etc/passwd')), 'security_violation', 'absolute paths');
    expectRejected(await commands.run(command('cat -v f.txt')), 'security_violation', 'option not allowed for cat');
    expect(jails).toHaveBeenCalledTimes(1);
  });

  it('allowlisted_program_missing_on_host_stops_startup', async () => {
    const host = await testHost();
    expect(() => createCommandRunner(host, config({ ALLOWED_COMMANDS: 'sh,echo,no-such-program-xyz' }))).toThrow(
      'ALLOWED_COMMANDS: not found on this host: no-such-program-xyz',
    );
  });

  it('abort_signal_kills_running_jail', async () => {
    const { commands } = await runner();
    const controller = new AbortController();
    const pending = commands.run(script('while :; do :; done'), { signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    const result = await pending;
    expect(result.run?.exit_reason).toBe('cancelled');
    expect(result.error?.type).toBe('unknown_error');
    expect(result.status).toBe('failed');
  });
});
