// ldd runs when a program set is first used, never per request: profiles are cached per set.
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/settings.js';
import { createCommandRunner } from '../../src/domains/commands/index.js';
import * as hostPrograms from '../../src/jail/profiles/host-programs.js';
import { TEST_STATE_DIR, TEST_UID_BASE, testHost } from '../support/jail.js';

vi.mock('../../src/jail/profiles/host-programs.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/jail/profiles/host-programs.js')>();
  return { ...original, resolveProgram: vi.fn(original.resolveProgram) };
});

describe('profile cache', () => {
  it('repeated_requests_resolve_programs_once', async () => {
    const host = await testHost();
    const commands = createCommandRunner(host, loadConfig({ CONFINE_STATE_DIR: TEST_STATE_DIR, CONFINE_UID_BASE: String(TEST_UID_BASE) }));
    const resolve = vi.mocked(hostPrograms.resolveProgram);
    for (let i = 0; i < 3; i++) {
      expect((await commands.run({ kind: 'command', command: `echo ${i}` })).run?.stdout).toBe(`${i}\n`);
      expect((await commands.run({ kind: 'script', script: 'id -un' })).run?.stdout).toBe('sandbox\n');
    }
    const names = resolve.mock.calls.map(([name]) => name).sort();
    // echo once for the command profile, then each allowlisted program once for the script profile.
    expect(names).toEqual(['cat', 'echo', 'echo', 'id', 'ls', 'pwd', 'sh', 'whoami']);
  });
});
