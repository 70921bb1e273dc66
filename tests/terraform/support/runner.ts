// Test wiring for the Terraform domain: a real JailHost, real terraform, the real mirror, and a planted
// credential that every result is checked against (it must never come back, whatever the test does).
import { expect } from 'vitest';
import { loadConfig, type Config } from '../../../src/config/settings.js';
import { createTerraformRunner } from '../../../src/domains/terraform/index.js';
import type { TerraformRequest, TerraformResult } from '../../../src/domains/terraform/types.js';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { findExecutable } from '../../../src/jail/host-tools.js';
import type { TerraformProfile } from '../../../src/domains/terraform/profile.js';
import { testHost } from '../../support/jail.js';
import { runPipeline, type PipelineInput, type PipelineOutput } from '../../../src/domains/terraform/pipeline.js';
import { Redactor } from '../../../src/domains/terraform/redact.js';
import { MiB } from '../../../src/jail/limits.js';
import type { SeedFile, Workspace } from '../../../src/jail/workspace.js';

/** Unique per test run, so a match can only come from a leak. */
export const PLANTED = {
  aws_access_key_id: `AKIAPLANTED${process.pid}X`,
  aws_secret_access_key: `planted-secret-${process.pid}-${Date.now()}-zq9`,
  aws_session_token: `planted-token-${process.pid}-${Date.now()}-k7w`,
};

export function testConfig(env: Record<string, string> = {}): Readonly<Config> {
  return loadConfig({ MAX_EXECUTION_TIME: '60', ...env });
}

/** The profile the runner would build: configured terraform binary and mirror, resolved on the host. */
export function testProfile(): TerraformProfile {
  const config = testConfig();
  const terraform = findExecutable(config.terraformBin);
  if (!terraform) throw new Error(`terraform not found: ${config.terraformBin}`);
  return { terraformHostPath: realpathSync(terraform), mirrorHostPath: config.providerMirror };
}

export function assertNoPlantedSecret(text: string): void {
  for (const value of Object.values(PLANTED)) expect(text.includes(value), 'planted credential leaked').toBe(false);
}

/**
 * Runs a request and checks nothing planted leaked. The planted credentials go along only when asked
 * (`credentials: true`): with egress off (the default) a plan that uses the AWS provider and carries
 * credentials is refused before terraform runs (issue 11), which would hide what most tests look at.
 */
export async function runTerraform(
  request: Omit<TerraformRequest, 'mode'> & { mode?: TerraformRequest['mode'] },
  env: Record<string, string> = {},
  options: { credentials?: boolean; signal?: AbortSignal } = {},
): Promise<TerraformResult> {
  const runner = createTerraformRunner(await testHost(), testConfig(env));
  const result = await runner.run(
    { mode: 'plan', ...request, ...(options.credentials === true ? { credentials: PLANTED } : {}) },
    options.signal ? { signal: options.signal } : {},
  );
  assertNoPlantedSecret(JSON.stringify(result));
  return result;
}

export function files(map: Record<string, string>): TerraformRequest['input'] {
  return { kind: 'files', files: map };
}

/** The aws-basic fixture's provider setup (mock keys, skip_* flags: plans need no account, make no request). */
export const AWS_PROVIDER = readFileSync(fileURLToPath(new URL('../../fixtures/terraform/aws-basic/providers.tf', import.meta.url)), 'utf8');

/**
 * The jailed pipeline alone (no intake or policy) in a fresh workspace seeded with `seed`; `inspect` runs
 * before the workspace is disposed, so tests can read what the jails left in it.
 */
export async function pipelineInSeededWorkspace<T>(
  seed: SeedFile[],
  options: Pick<PipelineInput, 'mode' | 'serviceLock'> & Partial<Pick<PipelineInput, 'host' | 'openEgress' | 'redactor'>> & { memoryMiB: number; workspaceMiB: number; cpuCores?: number; totalMs?: number },
  inspect: (output: PipelineOutput, workspace: Workspace) => Promise<T> | T,
): Promise<T> {
  const host = await testHost();
  const workspace = await host.createWorkspace({ sizeBytes: options.workspaceMiB * MiB, maxInodes: 20_000 });
  let output: PipelineOutput | undefined;
  try {
    await workspace.seed(seed);
    output = await runPipeline({
      host: options.host ?? host,
      profile: testProfile(),
      workspace,
      workingDir: '',
      mode: options.mode,
      serviceLock: options.serviceLock,
      limits: {
        totalMs: options.totalMs ?? 60_000,
        memoryBytes: options.memoryMiB * MiB,
        cpuCores: options.cpuCores ?? 1,
        workspaceBytes: options.workspaceMiB * MiB,
        planJsonBytes: 8 * MiB,
      },
      redactor: options.redactor ?? new Redactor([]),
      ...(options.openEgress ? { openEgress: options.openEgress } : {}),
    });
    return await inspect(output, workspace);
  } finally {
    await output?.plan?.dispose(); // the plan spool (plan mode)
    await workspace.dispose();
  }
}
