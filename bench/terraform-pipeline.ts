// Terraform pipeline benchmark, one run, interleaved rounds, medians and ratios:
//   bare    — host terraform, no jail, exactly the pipeline's steps: the same service lock file, CLI config
//             (filesystem mirror) and flags (init -backend=false -lockfile=readonly -> plan -out -> show
//             -json, GOGC/GOMEMLIMIT as the pipeline sets them). The jail-overhead baseline.
//   jailed  — createTerraformRunner(...).run(plan): intake + policy + workspace + the same three steps,
//             each in a fresh jail. Target: jailed/bare <= 1.03.
//   naive   — the seeds' pipeline, unjailed: init through a fresh plugin cache directory (which copies the
//             provider, ~700 MB) + a separate validate + plan + show, terraform's default environment.
//             Target: jailed/naive <= 0.5.
// The configuration is tests/fixtures/terraform/aws-basic (AWS provider, 7 resources, mock keys, skip_*).
// Also printed: the whole jailed plan request for a built-in-only configuration (three terraform_data).
// Run as root: `npx vite-node bench/terraform-pipeline.ts [rounds]`.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadConfig } from '../src/config/settings.js';
import { createTerraformRunner } from '../src/domains/terraform/index.js';
import { LOCK_FILE_NAME, lockFileFor, mirrorVersions } from '../src/domains/terraform/lockfile.js';
import { goRuntimeEnv } from '../src/domains/terraform/pipeline.js';
import { MiB } from '../src/jail/limits.js';
import { JailHost } from '../src/jail/host.js';
import { findExecutable } from '../src/jail/host-tools.js';

const exec = promisify(execFile);
const TIME = '/usr/bin/time';
const rounds = Number(process.argv[2] ?? 3);
const fixture = fileURLToPath(new URL('../tests/fixtures/terraform/aws-basic', import.meta.url));
const config = loadConfig({ ...process.env, MAX_EXECUTION_TIME: '300' });
const terraform = findExecutable(config.terraformBin);
if (!terraform || config.providerMirror === '') throw new Error('terraform and a provider mirror (TF_PROVIDER_MIRROR) are required');
// The host as `confine serve` opens it (WORKSPACE_POOL fresh workspaces mounted ahead of demand).
const host = await JailHost.open({ stateDir: process.env.CONFINE_BENCH_STATE_DIR ?? '/tmp/confine-bench-state', uidBase: 1_950_300_400, uidCount: 64, workspacePool: config.workspacePool });
const runner = createTerraformRunner(host, config);

const serviceLock = lockFileFor(new Set(['registry.terraform.io/hashicorp/aws']), await mirrorVersions(config.providerMirror));
if (serviceLock === undefined) throw new Error('the mirror has no single-version hashicorp/aws');

const cliConfig = (mirror: string): string =>
  `provider_installation {\n  filesystem_mirror {\n    path    = "${mirror}"\n    include = ["registry.terraform.io/*/*"]\n  }\n}\n`;

interface Sample {
  wallMs: number;
  /** user+sys CPU of terraform and its provider processes. */
  cpuMs: number;
  steps: Record<string, number>;
}

async function unjailed(steps: string[][], pluginCache: boolean, lock?: string, extraEnv: Record<string, string> = {}): Promise<Sample> {
  const dir = await mkdtemp(join(tmpdir(), 'confine-bench-tf-'));
  try {
    const work = join(dir, 'work');
    await cp(fixture, work, { recursive: true });
    await writeFile(join(dir, 'cli.tfrc'), cliConfig(config.providerMirror));
    if (lock !== undefined) await writeFile(join(work, LOCK_FILE_NAME), lock);
    const env: Record<string, string> = {
      HOME: dir, PATH: '/usr/bin:/bin', TF_CLI_CONFIG_FILE: join(dir, 'cli.tfrc'), TF_DATA_DIR: join(dir, 'data'),
      CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', TF_INPUT: '0',
      ...(pluginCache ? { TF_PLUGIN_CACHE_DIR: join(dir, 'plugin-cache') } : {}),
      ...extraEnv,
    };
    if (pluginCache) await mkdir(join(dir, 'plugin-cache'));
    const sample: Sample = { wallMs: 0, cpuMs: 0, steps: {} };
    const started = performance.now();
    for (const args of steps) {
      const stepStarted = performance.now();
      // GNU time reports the CPU of terraform and every provider process it waited for.
      const { stderr } = await exec(TIME, ['-f', 'confine-cpu %U %S', terraform!, ...args.map((a) => a.replace('PLAN', join(dir, 'plan')))], { cwd: work, env, maxBuffer: 512 * 1024 * 1024 });
      sample.steps[args[0]!] = performance.now() - stepStarted;
      const cpu = /confine-cpu ([\d.]+) ([\d.]+)/.exec(stderr);
      if (!cpu) throw new Error(`no CPU figures from ${TIME}`);
      sample.cpuMs += (Number(cpu[1]) + Number(cpu[2])) * 1000;
    }
    sample.wallMs = performance.now() - started;
    return sample;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const measure: Record<string, () => Promise<Sample>> = {
  bare: () =>
    unjailed([
      ['init', '-backend=false', '-input=false', '-no-color', '-json', '-lockfile=readonly'],
      ['plan', '-input=false', '-no-color', '-json', '-lock=false', '-out=PLAN'],
      ['show', '-json', '-no-color', 'PLAN'],
    ], false, serviceLock, goRuntimeEnv({ totalMs: 0, memoryBytes: config.terraformMemoryMiB * MiB, cpuCores: config.cpuCores, workspaceBytes: 0, planJsonBytes: 0 })),
  async jailed() {
    const started = performance.now();
    const result = await runner.run({ input: { kind: 'directory', path: fixture }, mode: 'plan' });
    const wallMs = performance.now() - started;
    if (result.error !== null || result.summary?.add !== 7) throw new Error(`jailed run failed: ${JSON.stringify(result.error)}`);
    return {
      wallMs,
      cpuMs: result.steps.reduce((sum, step) => sum + step.result.cpu_ms, 0),
      steps: Object.fromEntries(result.steps.map((step) => [step.name, step.result.wall_ms])),
    };
  },
  naive: () =>
    unjailed([
      ['init', '-backend=false', '-input=false'],
      ['validate'],
      ['plan', '-input=false', '-out=PLAN'],
      ['show', '-json', 'PLAN'],
    ], true),
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// One untimed pass warms the page cache (the 700 MB provider binary) for every variant alike.
for (const name of Object.keys(measure)) await measure[name]!();
const samples: Record<string, Sample[]> = { bare: [], jailed: [], naive: [] };
const order = Object.keys(measure);
for (let round = 0; round < rounds; round += 1) {
  // Rotate the order each round so background load does not always fall on the same variant.
  for (let i = 0; i < order.length; i += 1) {
    const name = order[(i + round) % order.length]!;
    samples[name]!.push(await measure[name]!());
  }
}
const builtinOnly: number[] = [];
for (let i = 0; i < Math.max(5, rounds); i += 1) {
  const started = performance.now();
  const result = await runner.run({
    input: { kind: 'files', files: { 'main.tf': 'resource "terraform_data" "each" {\n  for_each = toset(["a", "b", "c"])\n  input    = each.key\n}\n' } },
    mode: 'plan',
  });
  if (result.error !== null || result.summary?.add !== 3) throw new Error(`terraform_data run failed: ${JSON.stringify(result.error)}`);
  builtinOnly.push(performance.now() - started);
}
const wall = Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, median(xs.map((x) => x.wallMs))]));
const cpu = Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, median(xs.map((x) => x.cpuMs))]));
const stepMedians = Object.fromEntries(Object.entries(samples).map(([name, xs]) => [
  name,
  Object.fromEntries(Object.keys(xs[0]!.steps).map((step) => [step, Math.round(median(xs.map((x) => x.steps[step] ?? 0)))])),
]));
const ratios = {
  jailed_over_bare: wall.jailed! / wall.bare!,
  jailed_over_naive: wall.jailed! / wall.naive!,
  cpu_jailed_over_bare: cpu.jailed! / cpu.bare!,
  cpu_jailed_over_naive: cpu.jailed! / cpu.naive!,
};
const s2 = (ms: number): string => (ms / 1000).toFixed(2);

console.log(`terraform pipeline (aws provider, 7 resources), ${rounds} rounds, medians (load average ${loadavg()[0]!.toFixed(2)} at end):`);
for (const [name, xs] of Object.entries(samples)) {
  const steps = Object.entries(stepMedians[name]!).map(([step, ms]) => `${step} ${s2(ms)}`).join(', ');
  console.log(`  ${name.padEnd(7)} wall ${s2(wall[name]!).padStart(6)} s  cpu ${s2(cpu[name]!).padStart(6)} s  [${steps}]  wall samples: ${xs.map((x) => s2(x.wallMs)).join(', ')}`);
}
console.log(`  terraform_data plan request (intake + policy + init/plan/show jails): ${s2(median(builtinOnly))} s median of ${builtinOnly.length}`);
console.log(`  jailed/bare  = ${ratios.jailed_over_bare.toFixed(3)} wall, ${ratios.cpu_jailed_over_bare.toFixed(3)} cpu  (target <= 1.03)`);
console.log(`  jailed/naive = ${ratios.jailed_over_naive.toFixed(3)} wall, ${ratios.cpu_jailed_over_naive.toFixed(3)} cpu  (target <= 0.5)`);
console.log(JSON.stringify({ bench: 'terraform-pipeline', rounds, terraform_data_plan_ms: Math.round(median(builtinOnly)), median_wall_ms: wall, median_cpu_ms: cpu, step_median_ms: stepMedians, ratios }));
