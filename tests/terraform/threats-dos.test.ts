// Threat row 22: denial of service through terraform's own evaluator. Limits are read from configuration
// (small here so the attacks end fast); the outcome is a resource_limit or execution_timeout, and the
// host is untouched (the run returns, its cgroup and workspace are gone).
import { describe, expect, it } from 'vitest';
import { errorText } from './support/expect.js';
import { files, runTerraform } from './support/runner.js';

const SMALL = { MEMORY_LIMIT: '256', MAX_EXECUTION_TIME: '30' };

describe('threat row 22: resource exhaustion', () => {
  it('huge_count_hits_memory_limit_resource_limit', async () => {
    const result = await runTerraform({ input: files({ 'main.tf': 'resource "terraform_data" "a" {\n  count = 100000000\n}\n' }) }, SMALL);
    expect(result.error?.type).toBe('resource_limit');
    const plan = result.steps.find((s) => s.name === 'plan')!;
    expect(plan.result.exit_reason).toBe('memory_limit');
    // The cgroup's peak may overshoot by the page being charged when the limit hit; 1 MiB of slack.
    expect(plan.result.peak_memory_bytes).toBeLessThanOrEqual(257 * 1024 * 1024);
  });

  it('setproduct_cube_cannot_allocate_resource_limit', async () => {
    const result = await runTerraform({
      input: files({ 'main.tf': 'output "n" {\n  value = length(setproduct(range(1024), range(1024), range(1024)))\n}\n' }),
    }, SMALL);
    expect(result.error?.type).toBe('resource_limit');
    expect(errorText(result)).toMatch(/out of memory/);
  });

  it('giant_string_hits_memory_limit_resource_limit', async () => {
    const chunk = 'a'.repeat(256);
    const result = await runTerraform({
      input: files({ 'main.tf': `output "s" {\n  value = join("", flatten([for i in range(1024) : [for j in range(1024) : "${chunk}"]]))\n}\n` }),
    }, SMALL);
    expect(result.error?.type).toBe('resource_limit');
  });

  it('slow_plan_past_total_time_is_execution_timeout', async () => {
    const result = await runTerraform({ input: files({ 'main.tf': 'resource "terraform_data" "a" {\n  count = 100000000\n}\n' }) }, { MAX_EXECUTION_TIME: '1' });
    expect(result.error?.type).toBe('execution_timeout');
    const total = result.steps.reduce((sum, step) => sum + step.result.wall_ms, 0);
    expect(total).toBeLessThan(10_000); // generous bound: the deadline is 1 s for all steps together
  });

  it('self_recursive_module_is_stopped_validation_error', async () => {
    // terraform itself refuses the ever-longer module path; the jail's tmpfs bounds what it could write.
    const result = await runTerraform({ input: files({ 'main.tf': 'module "self" {\n  source = "./"\n}\n' }) }, SMALL);
    expect(result.error?.type).toBe('validation_error');
    expect(errorText(result)).toMatch(/self\.self\.self/);
  });

  it('plan_json_over_the_cap_is_output_limit_resource_limit', async () => {
    // 24 resources x 512 KiB inputs: the plan JSON (~24 MiB) exceeds an 8 MiB cap; show is stopped.
    const chunk = 'b'.repeat(1024);
    const result = await runTerraform({
      input: files({ 'main.tf': `resource "terraform_data" "a" {\n  count = 24\n  input = join("", [for i in range(512) : "${chunk}"])\n}\n` }),
    }, { TF_MAX_PLAN_JSON_SIZE: '8' });
    expect(result.error?.type).toBe('resource_limit');
    const show = result.steps.find((s) => s.name === 'show')!;
    expect(show.result.exit_reason).toBe('output_limit');
    expect(result.plan_json).toBeNull();
  });
});
