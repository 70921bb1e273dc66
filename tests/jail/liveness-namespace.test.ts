// Owners judged from inside a child pid namespace (a container's service, or an instance under
// `unshare --pid --mount-proc` sharing the cgroup parent with the host's service). Its /proc shows none of
// the initial namespace's processes, so a live host service's owner must not be taken for a dead one: its
// sweep would kill that service's running jails (seen under make test-v2: a CLI run's memory-bomb jail
// killed mid-run by the pid-1 restart test's sweep, reported as `signaled` with no usage).
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { INITIAL_PID_NAMESPACE, SELF, SELF_OWNER } from '../../src/jail/liveness.js';

const ROOT = resolve(import.meta.dirname, '../..');

function judgedInChildNamespace(owners: string[]): Promise<boolean[]> {
  const args = ['--pid', '--fork', '--mount-proc', join(ROOT, 'node_modules', '.bin', 'vite-node'), join(ROOT, 'tests/jail/fixtures/owner-alive.ts'), ...owners];
  return new Promise((done, fail) =>
    execFile('unshare', args, { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) fail(new Error(`${error.message}\n${stderr}`));
      else done(JSON.parse(stdout.trim().split('\n').pop()!) as boolean[]);
    }),
  );
}

describe.skipIf(SELF.pidNamespace !== INITIAL_PID_NAMESPACE)('owners seen from a child pid namespace', () => {
  it('live_owner_in_the_initial_namespace_is_alive_from_inside_a_child_namespace', async () => {
    const [alive] = await judgedInChildNamespace([SELF_OWNER]);
    expect(alive).toBe(true); // before: false (no visible process in that namespace), and its jails were swept
  });

  it('owner_in_a_namespace_that_no_longer_exists_is_still_gone', async () => {
    // A restarted container's predecessor: its namespace died with it (pid1-restart.test.ts does it for real).
    const [gone] = await judgedInChildNamespace([`1.${SELF.startTicks}.${SELF.boot}.4026599999`]);
    expect(gone).toBe(false);
  });
});
