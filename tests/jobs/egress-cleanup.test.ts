// A run's egress door or proxy that fails to close (issue 11) may leave a process or socket behind: the
// jobs layer wired as the service wires it reports that through its internal-error handler (the service's
// log), not as a bare process warning; the run's own result stands and another tenant is served meanwhile.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/settings.js';
import type { JailHost } from '../../src/jail/host.js';
import { createJobLayer, type JobLayer } from '../../src/jobs/index.js';
import { startFakeAws, type FakeAws } from '../egress/fake-aws.js';
import { REAL } from '../egress/support.js';
import { TEST_STATE_DIR, TEST_UID_BASE, testHost } from '../support/jail.js';
import { AWS_PROVIDER } from '../terraform/support/runner.js';

const CALLER = `${AWS_PROVIDER}data "aws_caller_identity" "me" {}\noutput "account" {\n  value = data.aws_caller_identity.me.account_id\n}\n`;

let fake: FakeAws;
let artifactsDir: string;
let layer: JobLayer;
const reported: unknown[] = [];

/** The real host, except that every door's close() fails after really closing the door. */
function failingDoorClose(host: JailHost): JailHost {
  return new Proxy(host, {
    get(target, prop, receiver) {
      if (prop !== 'openDoor') {
        // Bound to the real host: its methods use private state a proxy receiver does not carry.
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      }
      return async (options: Parameters<JailHost['openDoor']>[0]) => {
        const door = await target.openDoor(options);
        return { ...door, close: async () => { await door.close(); throw new Error('door close failed (test)'); } };
      };
    },
  });
}

beforeAll(async () => {
  fake = await startFakeAws(REAL);
  artifactsDir = await mkdtemp(join(tmpdir(), 'confine-egress-cleanup-'));
  const config = loadConfig({
    CONFINE_STATE_DIR: TEST_STATE_DIR,
    CONFINE_UID_BASE: String(TEST_UID_BASE),
    ARTIFACTS_DIR: artifactsDir,
    WORKERS: '2',
    MAX_EXECUTION_TIME: '240',
    TF_EGRESS: 'aws',
    TF_EGRESS_UPSTREAM_URL: fake.url,
  });
  layer = await createJobLayer({ host: failingDoorClose(await testHost()), config, onInternalError: (error) => reported.push(error) });
});

afterAll(async () => {
  await layer?.close(5_000);
  await fake?.close();
  await rm(artifactsDir, { recursive: true, force: true });
});

describe('egress cleanup errors in the jobs layer', () => {
  it('failing_door_close_reaches_the_internal_error_log_and_the_run_stands', async () => {
    const run = await layer.jobs.submit('alice', { kind: 'terraform', request: { mode: 'plan', input: { kind: 'files', files: { 'main.tf': CALLER } }, credentials: REAL } });
    const other = await layer.jobs.submit('bob', { kind: 'command', request: { kind: 'command', command: 'echo served' } });
    const [done, otherDone] = await Promise.all([layer.jobs.wait('alice', run.id, 280_000), layer.jobs.wait('bob', other.id, 280_000)]);
    expect(done?.state, `${JSON.stringify(done?.error)} ${String(reported[0])}`).toBe('succeeded');
    expect(done?.outcome?.kind === 'terraform' && done.outcome.result.egress?.some((call) => call.action === 'GetCallerIdentity' && call.allowed)).toBe(true);
    expect(otherDone?.state).toBe('succeeded');
    expect(reported.map((error) => (error instanceof Error ? error.message : String(error)))).toEqual(['closing egress door and proxy failed: door close failed (test)']);
    const text = reported.map((error) => JSON.stringify(error, Object.getOwnPropertyNames(error))).join('\n');
    expect([REAL.aws_secret_access_key, REAL.aws_session_token ?? ''].filter((secret) => secret !== '' && text.includes(secret))).toEqual([]);
  }, 300_000);
});
