// Input files for a session's workspace, which jails have already used: the tenant plants links that
// point at host files (Judge0 CVE-2024-28185/28189), then asks for files to be written there. Host root
// must never write through them; the writing happens in a jail as the workspace's uid.
import { createHash } from 'node:crypto';
import { lstat, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/settings.js';
import { createCommandRunner, type CommandRunner } from '../../src/domains/commands/index.js';
import { DomainError } from '../../src/domains/errors.js';
import { DEFAULT_WORKSPACE_INODES } from '../../src/jail/host.js';
import { MiB } from '../../src/jail/limits.js';
import type { Workspace } from '../../src/jail/workspace.js';
import { TEST_STATE_DIR, TEST_UID_BASE, testHost } from '../support/jail.js';

const PASSWD = '/etc/passwd';

let workspace: Workspace;
let commands: CommandRunner;

async function digest(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

async function injectError(files: Record<string, string>): Promise<DomainError> {
  try {
    await commands.injectFiles(workspace, files);
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('injection succeeded');
}

beforeEach(async () => {
  const host = await testHost();
  // `ln` only to let the tenant plant links, as a real tenant could with any program that calls symlink().
  const config = loadConfig({ CONFINE_STATE_DIR: TEST_STATE_DIR, CONFINE_UID_BASE: String(TEST_UID_BASE), ALLOWED_COMMANDS: 'sh,cat,echo,ln,ls' });
  commands = createCommandRunner(host, config);
  workspace = await host.createWorkspace({ sizeBytes: 16 * MiB, maxInodes: DEFAULT_WORKSPACE_INODES });
});

afterEach(async () => {
  await workspace.dispose();
});

async function plant(): Promise<void> {
  const planted = await commands.run({ kind: 'script', script: `ln -s ${PASSWD} out.txt && ln -s /etc loot` }, { workspace });
  expect(planted.run?.exit_code).toBe(0);
  // The trap is real: resolved on the host, these links lead to the host's own files.
  expect(await readlink(join(workspace.hostPath, 'out.txt'))).toBe(PASSWD);
  expect((await lstat(join(workspace.hostPath, 'loot'))).isSymbolicLink()).toBe(true);
}

describe('injectFiles', () => {
  it('planted_file_link_not_followed_host_file_untouched', async () => {
    await plant();
    const before = await digest(PASSWD);
    const error = await injectError({ 'out.txt': 'pwned:x:0:0::/:/bin/sh\n' });
    expect(error.type).toBe('security_violation');
    expect(error.message).toContain('out.txt is a link');
    expect(await digest(PASSWD)).toBe(before);
    expect(await readlink(join(workspace.hostPath, 'out.txt'))).toBe(PASSWD);
  });

  it('planted_directory_link_not_followed_host_dir_untouched', async () => {
    await plant();
    const before = await digest(PASSWD);
    const error = await injectError({ 'loot/passwd': 'pwned\n', 'loot/cron.d/evil': 'x' });
    expect(error.type).toBe('security_violation');
    expect(error.message).toContain('loot is a link');
    expect(await digest(PASSWD)).toBe(before);
    await expect(stat('/etc/cron.d/evil')).rejects.toThrow();
  });

  it('writing_through_link_from_jail_reaches_only_jail_files', async () => {
    // What the injecting jail could reach if a link slipped past its check: the jail's read-only files.
    await plant();
    const before = await digest(PASSWD);
    const result = await commands.run({ kind: 'script', script: 'echo pwned > out.txt; echo "rc=$?"; echo x > loot/evil; echo "rc=$?"' }, { workspace });
    expect(result.run?.stdout).toBe('rc=2\nrc=2\n');
    expect(await digest(PASSWD)).toBe(before);
    await expect(stat('/etc/evil')).rejects.toThrow();
  });

  it('run_with_session_workspace_rejects_link_input', async () => {
    await plant();
    const before = await digest(PASSWD);
    const result = await commands.run({ kind: 'command', command: 'cat out.txt', files: { 'out.txt': 'pwned\n' } }, { workspace });
    expect(result.run).toBeNull();
    expect(result.error?.type).toBe('security_violation');
    expect(await digest(PASSWD)).toBe(before);
  });

  it('files_written_as_workspace_uid_and_readable_by_next_jail', async () => {
    await commands.run({ kind: 'command', command: 'echo warm-up' }, { workspace }); // the workspace is now "used"
    await commands.injectFiles(workspace, { 'dir/sub/new.txt': 'hello\n', 'top.txt': "it's $(not) run\n" });
    const owner = await stat(join(workspace.hostPath, 'dir/sub/new.txt'));
    expect(owner.uid).toBe(workspace.identity.uid);
    expect((await stat(join(workspace.hostPath, 'dir'))).uid).toBe(workspace.identity.uid);
    const result = await commands.run({ kind: 'command', command: 'cat dir/sub/new.txt top.txt' }, { workspace });
    expect(result.run?.stdout).toBe("hello\nit's $(not) run\n");
  });

  it('existing_regular_file_overwritten', async () => {
    await commands.injectFiles(workspace, { 'a.txt': 'first version, longer\n' });
    await commands.injectFiles(workspace, { 'a.txt': 'second\n' });
    const result = await commands.run({ kind: 'command', command: 'cat a.txt' }, { workspace });
    expect(result.run?.stdout).toBe('second\n');
  });

  it('session_workspace_kept_and_tmp_persists', async () => {
    await commands.run({ kind: 'script', script: 'echo kept > /tmp/state' }, { workspace });
    const result = await commands.run({ kind: 'command', command: 'cat /tmp/state' }, { workspace });
    expect(result.run?.stdout).toBe('kept\n');
  });

  it('file_where_directory_needed_is_validation_error', async () => {
    await commands.injectFiles(workspace, { plain: 'x' });
    const error = await injectError({ 'plain/child.txt': 'y' });
    expect(error.type).toBe('validation_error');
    expect(error.message).toContain('plain is not a directory');
  });

  it('maximum_file_count_injected_in_one_jail', async () => {
    // 256 files = 256 descriptors into bubblewrap: more than the default open-files rlimit.
    await commands.run({ kind: 'command', command: 'echo warm-up' }, { workspace });
    const files: Record<string, string> = {};
    for (let i = 0; i < 256; i++) files[`d${i % 4}/f${i}`] = `content ${i}\n`;
    await commands.injectFiles(workspace, files);
    const listing = await commands.run({ kind: 'command', command: 'ls d0 d1 d2 d3' }, { workspace });
    expect(listing.run?.stdout.split('\n').filter((l) => /^f\d+$/.test(l))).toHaveLength(256);
    const one = await commands.run({ kind: 'command', command: 'cat d3/f255' }, { workspace });
    expect(one.run?.stdout).toBe('content 255\n');
  });

  it('bad_paths_rejected_before_any_jail', async () => {
    await expect(commands.injectFiles(workspace, { '../x': 'y' })).rejects.toThrow('".." leaves the workspace');
    await expect(commands.injectFiles(workspace, { '/etc/passwd': 'y' })).rejects.toThrow('absolute paths');
  });
});
