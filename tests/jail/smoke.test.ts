import { describe, expect, it } from 'vitest';
import { shellSpec } from '../../src/jail/profiles/shell.js';
import { limits, testHost, testShellProfile } from '../support/jail.js';

describe('jail smoke', () => {
  it('runs_a_script_as_sandbox_user_exited_0', async () => {
    const host = await testHost();
    const profile = await testShellProfile(['id']);
    let hostUid = 0;
    const result = await host.run(shellSpec(profile, { command: { script: 'id -u; echo hello' }, limits: limits() }), undefined, {
      onStart: (info) => void (hostUid = info.hostUid),
    });
    expect(result.exit_reason).toBe('exited');
    expect(result.exit_code).toBe(0);
    expect(result.stdout).toBe('1000\nhello\n');
    expect(hostUid).toBeGreaterThan(0);
  });
});
