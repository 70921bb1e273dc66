// What parsing tenant configuration in a jail costs (issue 9): the static policy over the aws-basic
// fixture run in the analysis jail (a fresh node jail per request, as the service does) vs the same
// policy in-process (what the service did before, sharing one WASM parser across all requests), and a
// whole terraform_data plan request for scale. Interleaved rounds, medians, one run:
//   npx vite-node bench/analysis-jail.ts [rounds, default 15]
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/settings.js';
import { createAnalysisRunner } from '../src/domains/terraform/analysis/runner.js';
import { createTerraformRunner } from '../src/domains/terraform/index.js';
import { evaluatePolicy } from '../src/domains/terraform/policy/index.js';
import { JailHost } from '../src/jail/host.js';
import { MiB } from '../src/jail/limits.js';

const rounds = Number(process.argv[2] ?? 15);
const fixture = fileURLToPath(new URL('../tests/fixtures/terraform/aws-basic', import.meta.url));
const config = loadConfig({ ...process.env, MAX_EXECUTION_TIME: '300' });
const host = await JailHost.open({ stateDir: process.env.CONFINE_BENCH_STATE_DIR ?? '/tmp/confine-bench-state', uidBase: 1_950_300_600, uidCount: 64, workspacePool: config.workspacePool, launcherPool: config.launcherPool });
const analysis = createAnalysisRunner(host);
const terraform = createTerraformRunner(host, config);
const files = await Promise.all((await readdir(fixture)).map(async (name) => ({ path: name, content: await readFile(join(fixture, name)) })));
const job = { workingDir: '', allowedProviders: config.allowedProviders, warnRules: [] };
const limits = { memoryBytes: config.terraformMemoryMiB * MiB, cpuCores: config.cpuCores, wallTimeMs: 60_000 };

const time = async (fn: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

// Warm both paths once (program tree, WASM compile in this process).
await analysis.policy(files, job, limits);
await evaluatePolicy(files, '', job);
const jailed: number[] = [];
const inProcess: number[] = [];
const planRequest: number[] = [];
for (let i = 0; i < rounds; i++) {
  jailed.push(await time(() => analysis.policy(files, job, limits)));
  inProcess.push(await time(() => evaluatePolicy(files, '', job)));
  planRequest.push(await time(() => terraform.run({ input: { kind: 'files', files: { 'main.tf': 'resource "terraform_data" "a" {}\nresource "terraform_data" "b" {}\nresource "terraform_data" "c" {}\n' } }, mode: 'plan' })));
}
const j = median(jailed);
const p = median(inProcess);
const r = median(planRequest);
process.stdout.write(
  `analysis jail, ${rounds} interleaved rounds (medians): policy over aws-basic in the jail ${j.toFixed(0)} ms, in-process (warm shared parser) ${p.toFixed(1)} ms: ` +
    `+${(j - p).toFixed(0)} ms per Terraform run; a whole terraform_data plan request ${r.toFixed(0)} ms (analysis = ${((j / r) * 100).toFixed(0)}% of it)\n`,
);
await host.close();
