// What the service hands the analysis jail and what comes back. The job travels on the jail's stdin as one
// JSON header line followed by the raw bytes of the files it names (configuration files may be any bytes:
// the jail, not the service, decides whether they are UTF-8). The reply is one JSON object on stdout.
import type { ClassifiedError } from '../../errors.js';
import type { Finding, PlanSummary } from '../types.js';

/** Static policy over an upload's configuration files. */
export interface PolicyJob {
  mode: 'policy';
  workingDir: string;
  allowedProviders: string[];
  warnRules: string[];
  files: { path: string; bytes: number }[];
}

/** Change summary of a plan's JSON, read from a file in the jail's workspace. */
export interface SummaryJob {
  mode: 'summary';
  planPath: string;
  /** Resources listed in the summary; the counts always cover every resource. */
  maxResources: number;
}

export type AnalysisJob = PolicyJob | SummaryJob;

export interface PolicyAnswer {
  findings: Finding[];
  /** Provider addresses the configuration uses (for the service's lock file). */
  providers: string[];
}

export type AnalysisReply<T> = { ok: true; answer: T } | { ok: false; error: ClassifiedError };

/** Bounds on what the jail may answer: findings past these are counted, not listed. */
export const MAX_FINDINGS = 200;
export const MAX_PROVIDERS = 256;
export const MAX_MESSAGE_CHARS = 500;

export function encodeJob(job: AnalysisJob, payloads: readonly Buffer[] = []): Buffer {
  return Buffer.concat([Buffer.from(`${JSON.stringify(job)}\n`, 'utf8'), ...payloads]);
}

export function decodeJob(input: Buffer): { job: AnalysisJob; body: Buffer } {
  const newline = input.indexOf(10);
  if (newline < 0) throw new Error('analysis job: no header line');
  return { job: JSON.parse(input.subarray(0, newline).toString('utf8')) as AnalysisJob, body: input.subarray(newline + 1) };
}

export type { PlanSummary };
