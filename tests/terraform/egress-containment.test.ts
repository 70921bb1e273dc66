// Issue 11, containment seen from a live egress-enabled plan: the whole service over real HTTP
// (TF_EGRESS=aws, every call sent to a fake AWS that verifies SigV4 against the planted REAL credentials),
// real jails, real terraform and the AWS provider from the mirror. Each attack is a real plan that asks
// for something the allowlist refuses (another service, another region, more calls or bytes than the caps): it
// fails with a classified error naming the refused call, the call is in `result.egress`, a second tenant's
// plan is answered normally meanwhile, and nothing of the run is left (no door process, no process in its
// network namespace, no mount holding it, no proxy socket). The planted secret is looked for from the host
// while the run is live (every process's environ and cmdline, the jail's workspace and /tmp) and after it
// (plan JSON, result, audit log, service logs at trace level, /metrics).
// A write action is not attempted here: no data source issues one during a plan, and a crafted write
// (ec2 RunInstances, s3 PUT/DELETE, sts AssumeRole) is refused by the proxy in tests/egress/proxy.test.ts.
import { readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, KEY_A, KEY_B, startService, uidRange, type Json, type Running } from '../api/support.js';
import { startFakeAws, type FakeAws } from '../egress/fake-aws.js';
import { leftovers, startScanner, type ScanReport } from './support/live-scan.js';
import { PLANTED } from './support/runner.js';

/** This file's own host uids: a process of these uids after a run is the run's leftover, nobody else's. */
const UID_BASE = 1_950_403_000;
const UIDS = uidRange(UID_BASE);
const MAX_REQUESTS = 12;
const NEEDLES = [PLANTED.aws_access_key_id, PLANTED.aws_secret_access_key, PLANTED.aws_session_token];

const provider = (region: string): string => `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}
provider "aws" {
  region = "${region}"
}
`;

const THREE_DATA_SOURCES = `${provider('us-east-1')}
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

/** The other tenant's plan, answered while an attack runs: no credentials, no AWS provider, no network. */
const BYSTANDER = { 'main.tf': 'resource "terraform_data" "b" {\n  input = "bystander"\n}\n' };

let fake: FakeAws;
let svc: Running;

beforeAll(async () => {
  fake = await startFakeAws(PLANTED);
  svc = await startService(
    {
      LOG_LEVEL: 'trace',
      TF_EGRESS: 'aws',
      TF_EGRESS_UPSTREAM_URL: fake.url,
      TF_EGRESS_SERVICES: 'sts,ec2',
      TF_EGRESS_REGIONS: 'us-east-1',
      TF_EGRESS_MAX_REQUESTS: String(MAX_REQUESTS),
      MAX_EXECUTION_TIME: '240',
    },
    UID_BASE,
  );
});
afterAll(async () => {
  await svc?.close();
  await fake?.close();
});

interface Attempt {
  run: Json;
  bystander: Json;
  report: ScanReport;
  left: string[];
}

/** Tenant alpha's plan with the planted credentials, tenant bravo's plain plan beside it, watched live. */
async function attempt(files: Record<string, string>, service: Running = svc): Promise<Attempt> {
  const scanner = await startScanner(NEEDLES, UIDS);
  let report: ScanReport;
  let run: Json;
  let bystander: Json;
  try {
    const [a, b] = await Promise.all([
      call(service.base, 'POST', '/api/v1/runs/terraform?wait=true', { key: KEY_A, json: { files, mode: 'plan', credentials: PLANTED } }),
      call(service.base, 'POST', '/api/v1/runs/terraform?wait=true', { key: KEY_B, json: { files: BYSTANDER, mode: 'plan' } }),
    ]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    run = a.body;
    bystander = b.body;
  } finally {
    report = await scanner.stop();
  }
  // The run is answered after its door and proxy are closed; a killed process may take a moment to be reaped.
  let left = await leftovers(report, UIDS);
  for (let i = 0; i < 50 && left.length > 0; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = await leftovers(report, UIDS);
  }
  return { run, bystander, report, left };
}

interface Call {
  service: string;
  action: string;
  region: string;
  status: number;
  bytes: number;
  allowed: boolean;
  reason?: string;
}

const egressOf = (run: Json): Call[] => (run['result']?.['egress'] ?? []) as unknown as Call[];

/** What every attempt must show whatever it tried: the door was really there, and is gone. */
function expectContained(attempt: Attempt): void {
  expect(attempt.report.jailProcesses.length, 'the scan saw the live plan step').toBeGreaterThan(0);
  expect(attempt.report.netns.length).toBeGreaterThan(0);
  expect(attempt.report.proxySockets.length, 'the run had a proxy socket').toBeGreaterThan(0);
  expect(attempt.left).toEqual([]);
  expect(attempt.report.leaks).toEqual([]);
  expect(attempt.report.unreadable, 'every jail process was read').toEqual([]);
  expect(attempt.bystander).toMatchObject({ state: 'succeeded', error: null, result: { summary: { add: 1 } } });
  expect(attempt.bystander['result']?.['egress'] ?? []).toEqual([]); // no credentials: no door, no calls
}

// Two real plans per test (the AWS provider starting in one): generous upper bounds on a loaded 2-core host.
describe('terraform egress containment', () => {
  it('planted_secret_absent_from_live_jail_processes_workspace_tmp_plan_result_logs_and_metrics', async () => {
    const attemptStarted = Date.now();
    const seen = await attempt({ 'main.tf': THREE_DATA_SOURCES });
    expect(seen.run).toMatchObject({ state: 'succeeded', error: null });
    const calls = egressOf(seen.run);
    const names = calls.map((c) => `${c.service}:${c.action}`);
    for (const name of ['sts:GetCallerIdentity', 'ec2:DescribeAvailabilityZones', 'ec2:DescribeVpcs']) expect(names).toContain(name);
    expect(calls.every((c) => c.allowed && c.status === 200)).toBe(true);
    // Every call reached the fake signed with the planted REAL credentials (the jail only had placeholders).
    expect(fake.requests.length).toBeGreaterThanOrEqual(3);
    expect(fake.requests.every((r) => r.signatureOk)).toBe(true);
    expectContained(seen);
    // The scan read the AWS provider's own environment while it ran: placeholders and the door, nothing real.
    const providerProcess = seen.report.jailProcesses.find((p) => p.argv0.includes('terraform-provider-aws'));
    expect(providerProcess, 'the provider process was read live').toBeDefined();
    expect(providerProcess!.environ).toMatch(/(^|\0)AWS_ACCESS_KEY_ID=[^\0]+/);
    expect(providerProcess!.environ).not.toContain(PLANTED.aws_access_key_id);
    expect(seen.report.filesRead.some((path) => path.endsWith('/main.tf')), 'the workspace was read live').toBe(true);
    // After the run: plan JSON, the run record, the audit log, every log line (trace level), /metrics.
    const id = String(seen.run['id']);
    const plan = await call(svc.base, 'GET', `/api/v1/runs/${id}/plan`, { key: KEY_A });
    expect(plan.status).toBe(200);
    expect(plan.text).toContain('172.31.0.0/16'); // the fake's VPC: the plan really read the cloud
    const record = await call(svc.base, 'GET', `/api/v1/runs/${id}`, { key: KEY_A });
    const metrics = await call(svc.base, 'GET', '/metrics', { key: KEY_A });
    expect(metrics.status).toBe(200);
    const audit = await svc.audit();
    expect(audit).toContain('GetCallerIdentity'); // the egress list is in the audit log
    const after = { plan: plan.text, run: JSON.stringify(seen.run), record: record.text, audit, logs: svc.logs(), metrics: metrics.text };
    for (const [where, text] of Object.entries(after)) {
      for (const needle of NEEDLES) expect(text.includes(needle), `planted credential in ${where}`).toBe(false);
    }
    // The host's /tmp: every file written since this attempt began (the service's own spools included).
    const tmpLeaks = await filesContaining(tmpdir(), NEEDLES, attemptStarted);
    expect(tmpLeaks).toEqual([]);
  }, 300_000);

  it('service_outside_the_allowlist_fails_security_violation_named_in_egress_and_leaves_nothing', async () => {
    const seen = await attempt({ 'main.tf': `${provider('us-east-1')}\ndata "aws_iam_user" "admin" {\n  user_name = "admin"\n}\n` });
    expect(seen.run).toMatchObject({ state: 'failed', error: { type: 'security_violation' } });
    expect(String(seen.run['error']?.['message'])).toContain('iam:GetUser');
    expect(String(seen.run['error']?.['message'])).toContain('service iam is not allowlisted');
    expect(egressOf(seen.run)).toContainEqual(expect.objectContaining({ service: 'iam', action: 'GetUser', allowed: false, status: 403 }));
    expect(fake.requests.some((r) => r.service === 'iam')).toBe(false); // refused at the proxy, never sent
    expectContained(seen);
  }, 300_000);

  it('region_outside_the_allowlist_fails_security_violation_named_in_egress_and_leaves_nothing', async () => {
    const before = fake.requests.length;
    const seen = await attempt({ 'main.tf': `${provider('eu-west-1')}\ndata "aws_caller_identity" "me" {}\n` });
    expect(seen.run).toMatchObject({ state: 'failed', error: { type: 'security_violation' } });
    expect(String(seen.run['error']?.['message'])).toContain('region eu-west-1 is not allowlisted');
    const refused = egressOf(seen.run).filter((c) => !c.allowed);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((c) => c.region === 'eu-west-1' && c.status === 403)).toBe(true);
    expect(fake.requests.slice(before).some((r) => r.region === 'eu-west-1')).toBe(false);
    expectContained(seen);
  }, 300_000);

  it('more_calls_than_the_request_cap_fail_resource_limit_named_in_egress_and_leave_nothing', async () => {
    const before = fake.requests.length;
    const many = `${provider('us-east-1')}\ndata "aws_availability_zones" "each" {\n  count = ${MAX_REQUESTS + 8}\n  state = "available"\n}\n`;
    const seen = await attempt({ 'main.tf': many });
    expect(seen.run).toMatchObject({ state: 'failed', error: { type: 'resource_limit' } });
    expect(String(seen.run['error']?.['message'])).toContain('request cap reached for this run');
    const calls = egressOf(seen.run);
    // The cap counts every call answered: exactly MAX_REQUESTS went upstream, the rest were refused.
    expect(calls.filter((c) => c.allowed)).toHaveLength(MAX_REQUESTS);
    expect(calls.filter((c) => !c.allowed).every((c) => c.reason === 'request cap reached for this run' && c.status === 403)).toBe(true);
    expect(fake.requests.length - before).toBe(MAX_REQUESTS);
    expectContained(seen);
  }, 300_000);

  it('answers_over_the_byte_cap_are_cut_resource_limit_named_in_egress_and_leave_nothing', async () => {
    // Its own service: the byte cap is a setting. Every ec2 answer grows past it; sts's small one fits.
    const maxBytes = 4096;
    const capped = await startService(
      { LOG_LEVEL: 'trace', TF_EGRESS: 'aws', TF_EGRESS_UPSTREAM_URL: fake.url, TF_EGRESS_SERVICES: 'sts,ec2', TF_EGRESS_REGIONS: 'us-east-1', TF_EGRESS_MAX_BYTES: String(maxBytes), MAX_EXECUTION_TIME: '240' },
      UID_BASE,
    );
    fake.padBytes = maxBytes * 4;
    try {
      const seen = await attempt({ 'main.tf': `${provider('us-east-1')}\ndata "aws_availability_zones" "azs" { state = "available" }\n` }, capped);
      expect(seen.run).toMatchObject({ state: 'failed', error: { type: 'resource_limit' } });
      expect(String(seen.run['error']?.['message'])).toContain('byte cap reached for this run');
      const calls = egressOf(seen.run);
      const cut = calls.filter((c) => !c.allowed);
      expect(cut.length).toBeGreaterThan(0);
      expect(cut.every((c) => c.reason === 'byte cap reached for this run')).toBe(true);
      // What crossed the proxy stayed within one chunk of the cap (the chunk that crossed it is not relayed whole).
      expect(calls.reduce((sum, c) => sum + c.bytes, 0)).toBeLessThan(maxBytes + 64 * 1024);
      expectContained(seen);
      for (const needle of NEEDLES) expect(capped.logs().includes(needle)).toBe(false);
    } finally {
      fake.padBytes = 0;
      await capped.close();
    }
  }, 300_000);
});

/** Regular files under `dir` changed since `sinceMs` that hold a needle (bounded walk, no symlinks). */
async function filesContaining(dir: string, needles: readonly string[], sinceMs: number, depth = 0): Promise<string[]> {
  if (depth > 6) return [];
  const found: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await filesContaining(path, needles, sinceMs, depth + 1)));
    else if (entry.isFile()) {
      const info = await stat(path).catch(() => undefined);
      if (info === undefined || info.mtimeMs < sinceMs || info.size > 16 * 1024 * 1024) continue;
      const text = await readFile(path, 'latin1').catch(() => '');
      if (needles.some((needle) => text.includes(needle))) found.push(path);
    }
  }
  return found;
}
