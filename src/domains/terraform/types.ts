// Contract of the Terraform domain: what the CLI and the HTTP API hand in, and what comes back.
import type { RunResult } from '../../jail/spec.js';
import type { ClassifiedError } from '../errors.js';
import type { EgressCall } from '../../egress/types.js';

export type TerraformMode = 'validate' | 'plan';

export type TerraformInput =
  | { kind: 'directory'; path: string }
  | { kind: 'zip'; data: Buffer }
  | { kind: 'tar.gz'; data: Buffer }
  /** `{ "main.tf": "...", "modules/x/main.tf": "..." }` */
  | { kind: 'files'; files: Record<string, string> };

export interface AwsCredentials {
  aws_access_key_id: string;
  aws_secret_access_key: string;
  aws_session_token?: string;
}

export interface TerraformRequest {
  input: TerraformInput;
  mode: TerraformMode;
  /** Directory inside the upload where terraform runs; modules may live beside it (`../../`). */
  working_dir?: string;
  /**
   * Never enter a jail: with TF_EGRESS=aws the host-side proxy signs the plan step's allowlisted calls
   * with them; redacted from everything returned.
   */
  credentials?: AwsCredentials;
}

export type FindingSeverity = 'block' | 'warn';

export interface Finding {
  rule: string;
  severity: FindingSeverity;
  file: string;
  line?: number;
  message: string;
}

/** One entry of `terraform validate -json` diagnostics (or plan's), trimmed to what users read. */
export interface Diagnostic {
  severity: 'error' | 'warning';
  summary: string;
  detail?: string;
  file?: string;
  line?: number;
  /** What the diagnostic is about when terraform says, e.g. `provider["registry.terraform.io/hashicorp/aws"]`. */
  address?: string;
}

export interface PlanSummary {
  add: number;
  change: number;
  destroy: number;
  replace: number;
  noop: number;
  resources: { address: string; actions: string[] }[];
  /** Set when the plan has more resources than the summary lists (the counts above still cover all). */
  resources_truncated?: boolean;
}

export type TerraformStepName = 'init' | 'validate' | 'plan' | 'show';

export interface TerraformStep {
  name: TerraformStepName;
  result: RunResult;
}

export interface TerraformResult {
  status: 'succeeded' | 'failed';
  error: ClassifiedError | null;
  findings: Finding[];
  diagnostics: Diagnostic[];
  summary: PlanSummary | null;
  steps: TerraformStep[];
  /** `terraform show -json` output (credentials redacted), plan mode only. */
  plan_json: unknown | null;
  /** Every cloud API call the plan step made through the egress proxy; present only when it had a door (TF_EGRESS=aws). */
  egress?: EgressCall[];
  /** Calls refused past TF_EGRESS_MAX_REQUESTS beyond the few kept in `egress` (present only when some were left out). */
  egress_dropped?: number;
}

export interface TerraformProgress {
  step: TerraformStepName;
  state: 'started' | 'finished';
  result?: RunResult;
}
