// The analysis jail's program (run by node inside a jail with the `node` seccomp profile, no network, no
// /proc, a memory cgroup and a wall limit; src/domains/terraform/analysis/runner.ts starts it). It reads one
// job from stdin, answers one JSON object on stdout and exits. Whatever a hostile file does to the parsers
// here (a stack overflow in the WASM HCL parser, memory blow-up, a hang) ends this process only.
import { readFileSync, writeSync } from 'node:fs';
import { DomainError } from '../../errors.js';
import { evaluatePolicy } from '../policy/index.js';
import { summarizePlan } from '../summary.js';
import { MAX_FINDINGS, MAX_MESSAGE_CHARS, MAX_PROVIDERS, decodeJob, type AnalysisReply, type PolicyAnswer, type PolicyJob, type SummaryJob } from './protocol.js';
import type { Finding, PlanSummary } from '../types.js';

let answered = false;

function answer(reply: AnalysisReply<unknown>): void {
  if (answered) return;
  answered = true;
  writeSync(1, JSON.stringify(reply));
}

// The Go runtime inside the HCL parser does not throw when it dies (a stack overflow prints "fatal error"
// and leaves the parse promise pending forever); node then runs out of work and exits. Say so.
process.on('exit', () => {
  answer({ ok: false, error: { type: 'validation_error', message: 'configuration does not parse', detail: 'the HCL parser failed on this input' } });
});

async function policy(job: PolicyJob, body: Buffer): Promise<PolicyAnswer> {
  let offset = 0;
  const files = job.files.map((file) => {
    const content = body.subarray(offset, offset + file.bytes);
    offset += file.bytes;
    return { path: file.path, content };
  });
  const result = await evaluatePolicy(files, job.workingDir, { allowedProviders: job.allowedProviders, warnRules: job.warnRules });
  const findings: Finding[] = result.findings.slice(0, MAX_FINDINGS).map((f) => ({ ...f, message: f.message.slice(0, MAX_MESSAGE_CHARS) }));
  if (result.findings.length > MAX_FINDINGS) {
    const last = result.findings[MAX_FINDINGS]!;
    findings.push({ rule: last.rule, severity: last.severity, file: last.file, message: `${result.findings.length - MAX_FINDINGS} more findings not listed` });
  }
  return { findings, providers: [...result.providers].slice(0, MAX_PROVIDERS) };
}

function summary(job: SummaryJob): PlanSummary {
  const plan = JSON.parse(readFileSync(job.planPath, 'utf8')) as unknown;
  const whole = summarizePlan(plan);
  if (whole.resources.length <= job.maxResources) return whole;
  return { ...whole, resources: whole.resources.slice(0, job.maxResources), resources_truncated: true };
}

async function main(): Promise<void> {
  let mode = 'policy';
  try {
    const { job, body } = decodeJob(readFileSync(0));
    mode = job.mode;
    answer({ ok: true, answer: job.mode === 'policy' ? await policy(job, body) : summary(job) });
  } catch (error) {
    if (error instanceof DomainError) answer({ ok: false, error: error.toJSON() });
    else if (error instanceof SyntaxError && mode === 'summary') answer({ ok: false, error: { type: 'unknown_error', message: 'terraform show printed invalid JSON', detail: error.message } });
    else answer({ ok: false, error: { type: 'unknown_error', message: 'configuration analysis failed', detail: error instanceof Error ? error.message.slice(0, MAX_MESSAGE_CHARS) : 'unknown' } });
  }
}

await main();
