// The pipeline's own behaviour: modes and their steps, diagnostics from -json, progress, cancellation,
// summary counts, and that nothing outlives a run (workspace unmounted, no leftover cgroup).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTerraformRunner } from '../../src/domains/terraform/index.js';
import type { TerraformProgress } from '../../src/domains/terraform/types.js';
import { summarizePlan } from '../../src/domains/terraform/summary.js';
import { LOCK_FILE_NAME, lockFileFor, mirrorVersions } from '../../src/domains/terraform/lockfile.js';
import { MiB } from '../../src/jail/limits.js';
import { SELF_OWNER } from '../../src/jail/liveness.js';
import { TEST_STATE_DIR, testHost } from '../support/jail.js';
import { stepNames } from './support/expect.js';
import { files, pipelineInSeededWorkspace, runTerraform, testConfig } from './support/runner.js';

const DATA_CONFIG = {
  'main.tf': [
    'variable "names" {\n  default = ["a", "b", "c"]\n}',
    'resource "terraform_data" "each" {\n  for_each = toset(var.names)\n  input    = each.key\n}',
    'output "count" {\n  value = length(terraform_data.each)\n}',
    '',
  ].join('\n'),
};

async function ownWorkspaces(): Promise<string[]> {
  const names = await readdir(join(TEST_STATE_DIR, 'workspaces')).catch(() => [] as string[]);
  return names.filter((name) => name.startsWith(`${SELF_OWNER}-`));
}

describe('terraform pipeline', () => {
  it('terraform_data_plan_succeeds_with_summary', async () => {
    const result = await runTerraform({ input: files(DATA_CONFIG) });
    expect(result.status).toBe('succeeded');
    expect(result.error).toBeNull();
    expect(stepNames(result)).toEqual(['init', 'plan', 'show']);
    expect(result.summary).toEqual({
      add: 3, change: 0, destroy: 0, replace: 0, noop: 0,
      resources: ['a', 'b', 'c'].map((k) => ({ address: `terraform_data.each["${k}"]`, actions: ['create'] })),
    });
    expect((result.plan_json as { format_version: string }).format_version).toMatch(/^1\./);
    for (const step of result.steps) expect(step.result).toMatchObject({ exit_reason: 'exited', exit_code: 0 });
    expect(await ownWorkspaces()).toEqual([]);
  });

  it('validate_mode_runs_init_and_validate_only', async () => {
    const result = await runTerraform({ input: files(DATA_CONFIG), mode: 'validate' });
    expect(result.error).toBeNull();
    expect(stepNames(result)).toEqual(['init', 'validate']);
    expect(result.plan_json).toBeNull();
    expect(result.summary).toBeNull();
  });

  it('validate_mode_reports_diagnostics_with_file_and_line_validation_error', async () => {
    const result = await runTerraform({
      input: files({ 'main.tf': 'resource "terraform_data" "a" {\n  input = 1\n}\n\noutput "x" {\n  value = terraform_data.missing.id\n}\n' }),
      mode: 'validate',
    });
    expect(result.error?.type).toBe('validation_error');
    expect(result.diagnostics).toContainEqual(expect.objectContaining({ severity: 'error', summary: 'Reference to undeclared resource', file: 'main.tf', line: 6 }));
  });

  it('unparseable_hcl_is_validation_error_before_any_terraform_step', async () => {
    const result = await runTerraform({ input: files({ 'main.tf': 'resource "terraform_data" "a" {\n' }) });
    expect(result.error?.type).toBe('validation_error');
    expect(result.error?.detail).toMatch(/main\.tf:1/);
    expect(result.steps).toEqual([]);
  });

  it('progress_reports_each_step_start_and_finish', async () => {
    const events: TerraformProgress[] = [];
    const runner = createTerraformRunner(await testHost(), testConfig());
    const result = await runner.run({ input: files(DATA_CONFIG), mode: 'plan' }, { onProgress: (p) => events.push(p) });
    expect(result.error).toBeNull();
    expect(events.map((e) => `${e.step}:${e.state}`)).toEqual(['init:started', 'init:finished', 'plan:started', 'plan:finished', 'show:started', 'show:finished']);
    expect(events.filter((e) => e.state === 'finished').every((e) => e.result?.exit_reason === 'exited')).toBe(true);
  });

  it('abort_during_plan_cancels_and_cleans_up', async () => {
    const controller = new AbortController();
    const runner = createTerraformRunner(await testHost(), testConfig());
    const run = runner.run(
      { input: files({ 'main.tf': 'resource "terraform_data" "a" {\n  count = 100000000\n}\n' }), mode: 'plan' },
      { signal: controller.signal, onProgress: (p) => { if (p.step === 'plan' && p.state === 'started') setTimeout(() => controller.abort(), 200); } },
    );
    const result = await run;
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ type: 'unknown_error', message: 'terraform plan was cancelled' });
    expect(result.steps.at(-1)?.result.exit_reason).toBe('cancelled');
    expect(await ownWorkspaces()).toEqual([]);
  });

  it('service_lock_that_misses_terraforms_provider_set_falls_back_to_a_normal_init', async () => {
    // A lock listing a provider the configuration does not use: init -lockfile=readonly refuses it, and the
    // pipeline lets init write its own lock instead of failing the tenant's run.
    const lock = lockFileFor(new Set(['registry.terraform.io/hashicorp/aws']), await mirrorVersions(testConfig().providerMirror))!;
    const seed = [{ path: 'main.tf', content: DATA_CONFIG['main.tf']! }, { path: LOCK_FILE_NAME, content: lock }];
    const { output, plan } = await pipelineInSeededWorkspace(seed, { mode: 'plan', serviceLock: true, memoryMiB: 512, workspaceMiB: 64 }, async (out) => ({
      output: out,
      plan: out.plan === null ? null : await readFile(out.plan.path, 'utf8'),
    }));
    expect(output.error).toBeNull();
    expect(output.steps.map((s) => s.name)).toEqual(['init', 'init', 'plan', 'show']);
    expect(output.steps[0]!.result.stdout).toContain('Provider dependency changes detected');
    expect(summarizePlan(JSON.parse(plan!)).add).toBe(3);
  });

  it('summary_counts_replace_update_delete_and_noop', () => {
    const summary = summarizePlan({
      resource_changes: [
        { address: 'a', change: { actions: ['create'] } },
        { address: 'b', change: { actions: ['delete', 'create'] } },
        { address: 'c', change: { actions: ['create', 'delete'] } },
        { address: 'd', change: { actions: ['update'] } },
        { address: 'e', change: { actions: ['delete'] } },
        { address: 'f', change: { actions: ['no-op'] } },
        { address: 'g', change: { actions: ['read'] } },
      ],
    });
    expect(summary).toMatchObject({ add: 1, replace: 2, change: 1, destroy: 1, noop: 1 });
    expect(summary.resources).toHaveLength(7);
  });
});
