// Terraform egress benchmark (issue 11), one run, interleaved rounds, medians and the wall ratio:
//   bare    — host terraform, no jail, no proxy: init -> plan -> show with the REAL credentials straight
//             against the fake AWS upstream (the same lock file, CLI config and flags as the pipeline).
//   egress  — createTerraformRunner(...).run(plan, credentials) with TF_EGRESS=aws and
//             TF_EGRESS_UPSTREAM_URL at the same fake: intake + policy + three jails, the plan step behind
//             its door and the host-side signing proxy. Target: egress/bare <= 1.10 wall.
//   control — the same two without any cloud call (mock keys, skip_* flags, no data source; no credentials,
//             so no door): what the jails alone cost at the machine's load, to tell it from the door's cost.
// The configuration reads the cloud: aws_caller_identity, aws_availability_zones and aws_vpc (the fake
// verifies every call's SigV4 signature against the real credentials, so a placeholder-signed call fails).
// Run as root: `npx vite-node bench/egress.ts [rounds, default 5]`.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../src/config/settings.js';
import { createTerraformRunner } from '../src/domains/terraform/index.js';
import { LOCK_FILE_NAME, lockFileFor, mirrorVersions } from '../src/domains/terraform/lockfile.js';
import { goRuntimeEnv } from '../src/domains/terraform/pipeline.js';
import { JailHost } from '../src/jail/host.js';
import { findExecutable } from '../src/jail/host-tools.js';
import { MiB } from '../src/jail/limits.js';
import { startFakeAws } from '../tests/egress/fake-aws.js';
import { REAL } from '../tests/egress/support.js';

const exec = promisify(execFile);
const rounds = Number(process.argv[2] ?? 5);

const MAIN_TF = `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}
provider "aws" {
  region = "us-east-1"
}
data "aws_caller_identity" "me" {}
data "aws_availability_zones" "azs" { state = "available" }
data "aws_vpc" "default" { default = true }
resource "terraform_data" "seen" {
  input = {
    account = data.aws_caller_identity.me.account_id
    azs     = data.aws_availability_zones.azs.names
    vpc     = data.aws_vpc.default.cidr_block
  }
}
`;

/** The control: the AWS provider configured and started, but no call made (no door, no credentials). */
const NO_CALL_TF = `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "mock_access_key"
  secret_key                  = "mock_secret_key"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}
resource "terraform_data" "seen" {
  input = "172.31.0.0/16"
}
`;

const fake = await startFakeAws(REAL);
const config = loadConfig({ ...process.env, MAX_EXECUTION_TIME: '300', TF_EGRESS: 'aws', TF_EGRESS_UPSTREAM_URL: fake.url });
const terraform = findExecutable(config.terraformBin);
if (!terraform || config.providerMirror === '') throw new Error('terraform and a provider mirror (TF_PROVIDER_MIRROR) are required');
const host = await JailHost.open({ stateDir: process.env.CONFINE_BENCH_STATE_DIR ?? '/tmp/confine-bench-state', uidBase: 1_950_300_800, uidCount: 64, workspacePool: config.workspacePool, launcherPool: config.launcherPool });
const runner = createTerraformRunner(host, config);
const serviceLock = lockFileFor(new Set(['registry.terraform.io/hashicorp/aws']), await mirrorVersions(config.providerMirror));
if (serviceLock === undefined) throw new Error('the mirror has no single-version hashicorp/aws');

interface Sample {
  wallMs: number;
  /** init, plan, show as each variant timed them (the jail's own wall_ms for the egress run). */
  steps: Record<string, number>;
}

async function bare(mainTf = MAIN_TF): Promise<Sample> {
  const dir = await mkdtemp(join(tmpdir(), 'confine-bench-egress-'));
  try {
    const work = join(dir, 'work');
    await exec('mkdir', [work]);
    await writeFile(join(work, 'main.tf'), mainTf);
    await writeFile(join(work, LOCK_FILE_NAME), serviceLock!);
    await writeFile(join(dir, 'cli.tfrc'), `provider_installation {\n  filesystem_mirror {\n    path    = "${config.providerMirror}"\n    include = ["registry.terraform.io/*/*"]\n  }\n}\n`);
    const env: Record<string, string> = {
      HOME: dir, PATH: '/usr/bin:/bin', TF_CLI_CONFIG_FILE: join(dir, 'cli.tfrc'), TF_DATA_DIR: join(dir, 'data'),
      CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', TF_INPUT: '0',
      ...goRuntimeEnv({ totalMs: 0, memoryBytes: config.terraformMemoryMiB * MiB, cpuCores: config.cpuCores, workspaceBytes: 0, planJsonBytes: 0 }),
      // What a person would run: the real credentials in the environment, the endpoint pointed at the upstream.
      AWS_ENDPOINT_URL: fake.url, AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ACCESS_KEY_ID: REAL.aws_access_key_id, AWS_SECRET_ACCESS_KEY: REAL.aws_secret_access_key, AWS_SESSION_TOKEN: REAL.aws_session_token ?? '',
    };
    const options = { cwd: work, env, maxBuffer: 256 * MiB };
    const steps: Record<string, number> = {};
    const step = async (name: string, args: string[]): Promise<string> => {
      const stepStarted = performance.now();
      const { stdout } = await exec(terraform!, [name, ...args], options);
      steps[name] = performance.now() - stepStarted;
      return stdout;
    };
    const started = performance.now();
    await step('init', ['-backend=false', '-input=false', '-no-color', '-json', '-lockfile=readonly']);
    await step('plan', ['-input=false', '-no-color', '-json', '-lock=false', `-out=${join(dir, 'plan')}`]);
    const shown = await step('show', ['-json', '-no-color', join(dir, 'plan')]);
    const wallMs = performance.now() - started;
    checkPlan(JSON.parse(shown) as unknown, 'bare');
    return { wallMs, steps };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function egress(withCloud = true): Promise<Sample> {
  const started = performance.now();
  const result = await runner.run(
    withCloud ? { input: { kind: 'files', files: { 'main.tf': MAIN_TF } }, mode: 'plan', credentials: REAL } : { input: { kind: 'files', files: { 'main.tf': NO_CALL_TF } }, mode: 'plan' },
  );
  const wallMs = performance.now() - started;
  if (result.error !== null) throw new Error(`egress run failed: ${JSON.stringify(result.error)}`);
  const calls = result.egress ?? [];
  if (withCloud && (calls.length < 3 || !calls.every((call) => call.allowed && call.status === 200))) throw new Error(`unexpected egress calls: ${JSON.stringify(calls)}`);
  if (!withCloud && calls.length > 0) throw new Error('the control run made egress calls');
  checkPlan(result.plan_json, withCloud ? 'egress' : 'jailed control');
  const steps = Object.fromEntries(result.steps.map((step) => [step.name, step.result.wall_ms]));
  // Intake, the policy and summary analysis jails, workspace, door and proxy set-up: the rest of the wall.
  steps.other = wallMs - Object.values(steps).reduce((sum, ms) => sum + ms, 0);
  return { wallMs, steps };
}

/** Both variants must really have read the fake's answers (its VPC's CIDR ends up in the plan). */
function checkPlan(plan: unknown, name: string): void {
  if (!JSON.stringify(plan).includes('172.31.0.0/16')) throw new Error(`${name}: the plan does not hold the fake's VPC`);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const measure: Record<string, () => Promise<Sample>> = { bare: () => bare(), egress: () => egress(), bare_nocall: () => bare(NO_CALL_TF), jailed_nocall: () => egress(false) };
// One untimed pass each warms the page cache (the provider binary) for all alike.
for (const fn of Object.values(measure)) await fn();
const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(measure).map((name) => [name, []]));
const order = Object.keys(measure);
for (let round = 0; round < rounds; round += 1) {
  // Alternate which variant goes first so background load does not always fall on the same one.
  for (let i = 0; i < order.length; i += 1) {
    const name = order[(i + round) % order.length]!;
    samples[name]!.push(await measure[name]!());
  }
}
const wall = Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, median(xs.map((x) => x.wallMs))]));
const stepMedians = Object.fromEntries(Object.entries(samples).map(([name, xs]) => [
  name,
  Object.fromEntries(Object.keys(xs[0]!.steps).map((step) => [step, Math.round(median(xs.map((x) => x.steps[step] ?? 0)))])),
]));
const ratio = wall.egress! / wall.bare!;
const planRatio = stepMedians.egress!.plan! / stepMedians.bare!.plan!;
const controlRatio = wall.jailed_nocall! / wall.bare_nocall!;
const s2 = (ms: number): string => (ms / 1000).toFixed(2);

console.log(`terraform egress (aws provider, 3 data sources through the signing proxy), ${rounds} rounds, medians (load average ${loadavg()[0]!.toFixed(2)} at end):`);
for (const [name, xs] of Object.entries(samples)) {
  const steps = Object.entries(stepMedians[name]!).map(([step, ms]) => `${step} ${s2(ms)}`).join(', ');
  console.log(`  ${name.padEnd(13)} wall ${s2(wall[name]!).padStart(6)} s  [${steps}]  wall samples: ${xs.map((x) => s2(x.wallMs)).join(', ')}`);
}
console.log(`  egress/bare = ${ratio.toFixed(3)} wall (target <= 1.10), plan step ${planRatio.toFixed(3)}`);
console.log(`  control, no cloud call: jailed/bare = ${controlRatio.toFixed(3)} wall (the jails alone at this load; egress/control = ${(ratio / controlRatio).toFixed(3)})`);
console.log(JSON.stringify({ bench: 'terraform-egress', rounds, median_wall_ms: wall, step_median_ms: stepMedians, ratios: { egress_over_bare: ratio, plan_step_egress_over_bare: planRatio, control_jailed_over_bare: controlRatio } }));
await host.close();
await fake.close();
