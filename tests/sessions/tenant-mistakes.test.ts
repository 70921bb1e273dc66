// A tenant's own mistakes are classified errors, never unknown_error logged as an internal failure
// (issue 9 item 10): a session workspace the tenant made unusable for its own jails (chmod 000), and file
// names longer than a filesystem allows (ENAMETOOLONG when written) in both domains.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/settings.js';
import { createCommandRunner, type CommandRunner } from '../../src/domains/commands/index.js';
import type { CommandResult } from '../../src/domains/commands/types.js';
import { DEFAULT_WORKSPACE_INODES, type JailHost } from '../../src/jail/host.js';
import { MiB } from '../../src/jail/limits.js';
import type { Workspace } from '../../src/jail/workspace.js';
import { TEST_STATE_DIR, TEST_UID_BASE, testHost } from '../support/jail.js';
import { files, runTerraform } from '../terraform/support/runner.js';

let host: JailHost;
let commands: CommandRunner;

beforeAll(async () => {
  host = await testHost();
  commands = createCommandRunner(host, loadConfig({ CONFINE_STATE_DIR: TEST_STATE_DIR, CONFINE_UID_BASE: String(TEST_UID_BASE), ALLOWED_COMMANDS: 'cat,chmod,echo,mkdir,sh' }));
});

async function sessionWorkspace(): Promise<Workspace> {
  return host.createWorkspace({ sizeBytes: 4 * MiB, maxInodes: DEFAULT_WORKSPACE_INODES });
}

function expectTenantError(result: CommandResult, pattern: RegExp): void {
  expect(result.status).toBe('failed');
  expect(result.run).toBeNull();
  expect(result.error?.type).toBe('validation_error');
  expect(result.error?.message).toMatch(pattern);
}

describe('a session workspace the tenant broke', () => {
  it('chmod000OnTheWorkspace_thenInjectingFiles_isValidationErrorNamingTheFix', async () => {
    const workspace = await sessionWorkspace();
    try {
      const broke = await commands.run({ kind: 'command', command: 'chmod 000 .' }, { workspace });
      expect(broke.status).toBe('succeeded');
      const inject = await commands.run({ kind: 'command', command: 'cat a.txt', files: { 'a.txt': 'x' } }, { workspace });
      expectTenantError(inject, /session workspace.*not accessible.*mode 000.*delete the session and open a new one/s);
      const plain = await commands.run({ kind: 'command', command: 'echo hi' }, { workspace });
      expectTenantError(plain, /session workspace.*not accessible/s);
    } finally {
      await workspace.dispose();
    }
  }, 60_000);

  it('chmod000OnTheRequestedCwd_isValidationErrorNamingTheDirectory', async () => {
    const workspace = await sessionWorkspace();
    try {
      const broke = await commands.run({ kind: 'script', script: 'mkdir -p sub/dir && chmod 000 sub' }, { workspace });
      expect(broke.status).toBe('succeeded');
      const result = await commands.run({ kind: 'command', command: 'echo hi', cwd: 'sub/dir' }, { workspace });
      expectTenantError(result, /"sub".*not accessible.*mode 000/s);
      // The rest of the workspace still works.
      const ok = await commands.run({ kind: 'command', command: 'echo hi' }, { workspace });
      expect(ok.run?.stdout).toBe('hi\n');
    } finally {
      await workspace.dispose();
    }
  }, 60_000);
});

describe('session files the tenant made read-only', () => {
  it('readOnlyWorkspaceRoot_thenInjectingANewFile_isValidationErrorNotResourceLimit', async () => {
    const workspace = await sessionWorkspace();
    try {
      expect((await commands.run({ kind: 'command', command: 'chmod 500 .' }, { workspace })).status).toBe('succeeded');
      const result = await commands.run({ kind: 'command', command: 'cat new.txt', files: { 'new.txt': 'x' } }, { workspace });
      expectTenantError(result, /new\.txt: \. is not writable/);
    } finally {
      await workspace.dispose();
    }
  }, 60_000);

  it('mode000File_thenInjectingItAgain_isValidationErrorNamingTheFile', async () => {
    const workspace = await sessionWorkspace();
    try {
      const first = await commands.run({ kind: 'script', script: 'chmod 000 sub/a.txt', files: { 'sub/a.txt': 'one' } }, { workspace });
      expect(first.status).toBe('succeeded');
      const result = await commands.run({ kind: 'command', command: 'echo hi', files: { 'sub/a.txt': 'two' } }, { workspace });
      expectTenantError(result, /sub\/a\.txt: sub\/a\.txt is not writable/);
    } finally {
      await workspace.dispose();
    }
  }, 60_000);
});

describe('file names longer than the filesystem allows', () => {
  const longName = `${'n'.repeat(296)}.txt`; // 300 bytes: NAME_MAX is 255

  it('commandInputFileWith300ByteName_isValidationErrorBeforeAnyJail', async () => {
    const result = await commands.run({ kind: 'command', command: 'echo hi', files: { [longName]: 'x' } });
    expectTenantError(result, /longer than 255 bytes/);
  });

  it('commandInputFileWith300ByteName_inAUsedSession_isValidationError', async () => {
    const workspace = await sessionWorkspace();
    try {
      expect((await commands.run({ kind: 'command', command: 'echo first' }, { workspace })).status).toBe('succeeded');
      const result = await commands.run({ kind: 'command', command: 'echo hi', files: { [`dir/${longName}`]: 'x' } }, { workspace });
      expectTenantError(result, /longer than 255 bytes/);
    } finally {
      await workspace.dispose();
    }
  }, 60_000);

  it('terraformFileWith300ByteName_isValidationErrorAtIntake', async () => {
    const result = await runTerraform({ input: files({ 'main.tf': 'resource "terraform_data" "x" {}\n', [`${'m'.repeat(297)}.tf`]: '' }), mode: 'validate' });
    expect(result.status).toBe('failed');
    expect(result.error?.type).toBe('validation_error');
    expect(result.error?.message).toMatch(/longer than 255 bytes/);
    expect(result.steps).toEqual([]); // refused before any jail
  });

  it('terraformDirectoryWith300ByteName_isValidationErrorAtIntake', async () => {
    const result = await runTerraform({ input: files({ 'main.tf': '', [`${'d'.repeat(300)}/x.tf`]: '' }), mode: 'validate' });
    expect(result.error?.type).toBe('validation_error');
    expect(result.error?.message).toMatch(/longer than 255 bytes/);
    expect(result.steps).toEqual([]);
  });
});
