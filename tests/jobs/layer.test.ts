// The jobs layer wired as the service wires it (createJobLayer): real JailHost, real command and
// Terraform runners, real artifact store. The plan JSON of a Terraform run lands in the store and is
// readable only by its tenant; a crashed predecessor's half-written artifacts are removed at start.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/settings.js';
import { createJobLayer, type JobLayer } from '../../src/jobs/index.js';
import { TEST_STATE_DIR, TEST_UID_BASE, testHost } from '../support/jail.js';
import { AWS_PROVIDER } from '../terraform/support/runner.js';

const AWS_MAIN_TF = `${AWS_PROVIDER}
resource "aws_s3_bucket" "logs" {
  bucket = "confine-layer-test"
}
`;

let artifactsDir: string;
let layer: JobLayer;
let staleTemp: string;

beforeAll(async () => {
  artifactsDir = await mkdtemp(join(tmpdir(), 'confine-layer-'));
  // What a crashed predecessor leaves: a half-written artifact named after its (dead) pid.
  const dead = spawnSync('true').pid;
  mkdirSync(join(artifactsDir, '.tmp'), { recursive: true });
  staleTemp = `${dead}-0123456789abcdef`;
  writeFileSync(join(artifactsDir, '.tmp', staleTemp), 'half');
  const config = loadConfig({
    CONFINE_STATE_DIR: TEST_STATE_DIR,
    CONFINE_UID_BASE: String(TEST_UID_BASE),
    ARTIFACTS_DIR: artifactsDir,
    WORKERS: '2',
    MAX_EXECUTION_TIME: '120',
  });
  layer = await createJobLayer({ host: await testHost(), config });
});

afterAll(async () => {
  await layer.close(5_000);
  await rm(artifactsDir, { recursive: true, force: true });
});

describe('job layer', () => {
  it('startup_removesDeadOwnersHalfWrittenArtifacts', () => {
    expect(layer.cleaned.artifactTempFiles).toBe(1);
    expect(readdirSync(join(artifactsDir, '.tmp'))).not.toContain(staleTemp);
  });

  it('commandRun_throughRealRunner_succeeds', async () => {
    const run = await layer.jobs.submit('alice', { kind: 'command', request: { kind: 'command', command: 'echo hello world' } });
    const done = await layer.jobs.wait('alice', run.id, 30_000);
    expect(done?.state).toBe('succeeded');
    expect(done?.outcome?.kind === 'command' && done.outcome.result.run?.stdout).toBe('hello world\n');
  });

  it('rejectedCommand_isAFailedRunWithItsErrorClass', async () => {
    const run = await layer.jobs.submit('alice', { kind: 'command', request: { kind: 'command', command: 'cat /etc/passwd; id' } });
    const done = await layer.jobs.wait('alice', run.id, 30_000);
    expect(done?.state).toBe('failed');
    expect(done?.error?.type).toBe('security_violation');
  });

  it('terraformPlan_storesPlanJsonAsTenantScopedArtifact', async () => {
    const run = await layer.jobs.submit('alice', { kind: 'terraform', request: { mode: 'plan', input: { kind: 'files', files: { 'main.tf': AWS_MAIN_TF } } } });
    const done = await layer.jobs.wait('alice', run.id, 180_000);
    expect(done?.state, JSON.stringify(done?.error)).toBe('succeeded');
    expect(done?.plan_reference).toBe(`artifact://plans/${run.id}.json`);
    const plan = (await layer.artifacts.fetchPlan('alice', done!.plan_reference!)) as { resource_changes: { address: string; change: { actions: string[] } }[] };
    expect(plan.resource_changes.map((c) => [c.address, c.change.actions])).toEqual([['aws_s3_bucket.logs', ['create']]]);
    // Small plans stay inline in the record as well (same document).
    expect(done?.outcome?.kind === 'terraform' && done.outcome.result.plan_json).toEqual(plan);
    expect(await layer.artifacts.fetchPlan('mallory', done!.plan_reference!)).toBeUndefined();
  }, 240_000);

  it('sessionRun_unknownSession_failsAsValidationErrorWithoutAJail', async () => {
    const run = await layer.jobs.submit('alice', { kind: 'command', request: { kind: 'command', command: 'ls' } }, { sessionId: 'never-opened' });
    const done = await layer.jobs.wait('alice', run.id, 30_000);
    expect(done?.state).toBe('failed');
    expect(done?.error?.type).toBe('validation_error');
    expect(done?.outcome?.kind === 'command' && done.outcome.result.run).toBeNull();
  });

  it('sessionRun_viaLayer_keepsFilesBetweenRequests', async () => {
    const session = await layer.sessions.open('alice', 'layer-session');
    const write = await layer.jobs.submit('alice', { kind: 'script', request: { kind: 'script', script: 'echo persisted > f.txt' } }, { sessionId: session.id });
    expect((await layer.jobs.wait('alice', write.id, 30_000))?.state).toBe('succeeded');
    const read = await layer.jobs.submit('alice', { kind: 'command', request: { kind: 'command', command: 'cat f.txt' } }, { sessionId: 'layer-session' });
    const done = await layer.jobs.wait('alice', read.id, 30_000);
    expect(done?.outcome?.kind === 'command' && done.outcome.result.run?.stdout).toBe('persisted\n');
    expect(done?.session_id).toBe('layer-session');
  });
});
