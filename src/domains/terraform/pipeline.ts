// The jailed steps of one request, all in one workspace (a fresh jail per step):
//   validate mode: init -backend=false -> validate -json
//   plan mode:     init -backend=false -> plan -out -json -> show -json (plan validates; no separate step)
// One deadline covers all steps; each step's wall limit is what remains of it.
import type { JailHost } from '../../jail/host.js';
import { MiB } from '../../jail/limits.js';
import { PLAN_FILE_IN_JAIL, terraformSpec, type TerraformProfile } from './profile.js';
import type { JailLimits, RunResult } from '../../jail/spec.js';
import type { Workspace } from '../../jail/workspace.js';
import type { ClassifiedError } from '../errors.js';
import { classifyStep } from './classify.js';
import { parseDiagnostics, stderrDiagnostic } from './diagnostics.js';
import { openPlanSpool, type PlanSpool } from './plan-spool.js';
import type { Redactor } from './redact.js';
import type { Diagnostic, TerraformMode, TerraformProgress, TerraformStep, TerraformStepName } from './types.js';
import type { EgressCall } from '../../egress/index.js';
import type { EgressJail, OpenEgress } from './egress-step.js';

export interface PipelineLimits {
  totalMs: number;
  memoryBytes: number;
  cpuCores: number;
  workspaceBytes: number;
  /** Cap on `show -json` output: the plan JSON is held in memory and stored as an artifact. */
  planJsonBytes: number;
}

export interface PipelineInput {
  host: JailHost;
  profile: TerraformProfile;
  workspace: Workspace;
  workingDir: string;
  mode: TerraformMode;
  /** The service seeded the lock file: init must not rewrite it (see lockfile.ts). */
  serviceLock: boolean;
  limits: PipelineLimits;
  redactor: Redactor;
  /**
   * Opens the plan step's door to the egress proxy (TF_EGRESS=aws and the request carries credentials);
   * absent: the plan step has no network, like every other step.
   */
  openEgress?: () => Promise<OpenEgress>;
  /** A failure closing the door or proxy: reported here, never in place of the run's result. */
  onCleanupError?: (what: string, error: unknown) => void;
  signal?: AbortSignal;
  onProgress?: (progress: TerraformProgress) => void;
}

export interface PipelineOutput {
  steps: TerraformStep[];
  diagnostics: Diagnostic[];
  error: ClassifiedError | null;
  /** The redacted `show -json` output in its spool file (plan mode, on success); the caller disposes it. */
  plan: PlanSpool | null;
  /** Every call the plan step made through the egress proxy; present only when it had a door. */
  egress?: EgressCall[];
  /** Calls past the cap left out of `egress` (refused alike, only counted). */
  egressDropped?: number;
}

/** Go runs one OS thread per blocked syscall; terraform and a provider together need a few hundred. */
const STEP_MAX_PIDS = 512;
const STEP_OPEN_FILES = 4096;
const STEP_OUTPUT_BYTES = 8 * MiB;

const COMMON = ['-input=false', '-no-color'];
const STEP_ARGS: Record<TerraformStepName, string[]> = {
  // -backend=false: a tenant backend block is never configured (threat rows 8, 18).
  init: ['init', '-backend=false', ...COMMON, '-json'],
  validate: ['validate', '-json', '-no-color'],
  plan: ['plan', ...COMMON, '-json', '-lock=false', `-out=${PLAN_FILE_IN_JAIL}`],
  show: ['show', '-json', '-no-color', PLAN_FILE_IN_JAIL],
};

export async function runPipeline(input: PipelineInput): Promise<PipelineOutput> {
  const deadline = performance.now() + input.limits.totalMs;
  const names: TerraformStepName[] = input.mode === 'validate' ? ['init', 'validate'] : ['init', 'plan', 'show'];
  const output: PipelineOutput = { steps: [], diagnostics: [], error: null, plan: null };
  for (const name of names) {
    if (input.signal?.aborted) {
      output.error = { type: 'unknown_error', message: 'run cancelled', detail: `before ${name}` };
      return output;
    }
    const remaining = Math.floor(deadline - performance.now());
    if (remaining <= 0) {
      output.error = { type: 'execution_timeout', message: 'terraform run exceeded MAX_EXECUTION_TIME', detail: `before ${name}` };
      return output;
    }
    input.onProgress?.({ step: name, state: 'started' });
    const args = name === 'init' && input.serviceLock ? [...STEP_ARGS.init, '-lockfile=readonly'] : STEP_ARGS[name];
    // show's stdout is the plan JSON: it streams into a spool file instead of the result.
    const spool = name === 'show' ? await openPlanSpool(input.host, input.limits.planJsonBytes, input.redactor.values) : undefined;
    let raw: RunResult;
    // Threat row 16 / issue 11: only the plan step talks to the cloud, and only through the door.
    const egress = name === 'plan' && input.openEgress ? await input.openEgress() : undefined;
    try {
      raw = await runStep(input, name, args, remaining, spool, egress?.jail);
      await spool?.finish();
    } catch (error) {
      await spool?.dispose();
      throw error;
    } finally {
      if (egress) {
        output.egress = egress.calls();
        const dropped = egress.dropped();
        if (dropped > 0) output.egressDropped = dropped;
        await egress.close().catch((error: unknown) => (input.onCleanupError ?? warn)('egress door and proxy', error));
      }
    }
    if (name === 'init' && input.serviceLock && isLockMismatch(raw)) {
      // Our provider set differed from terraform's (an edge the static reading missed): let init write
      // the lock itself, as it would without the service lock. Costs one more init, never correctness.
      output.steps.push({ name, result: redactResult(raw, input.redactor, false) });
      raw = await runStep(input, name, STEP_ARGS.init, Math.max(1, Math.floor(deadline - performance.now())));
    }
    const result = redactResult(raw, input.redactor, name === 'show');
    output.steps.push({ name, result });
    input.onProgress?.({ step: name, state: 'finished', result });
    // Parsed from redacted text, then redacted again field by field (JSON escapes could hide a match).
    const diagnostics = (name === 'show' ? [] : parseDiagnostics(result.stdout)).map((d) => input.redactor.deep(d));
    const failed = result.exit_reason !== 'exited' || result.exit_code !== 0;
    if (failed && diagnostics.every((d) => d.severity !== 'error')) {
      const fromStderr = stderrDiagnostic(result.stderr);
      if (fromStderr) diagnostics.push(input.redactor.deep(fromStderr));
    }
    output.diagnostics.push(...diagnostics);
    if (failed) {
      await spool?.dispose();
      output.error = refusedEgressError(output.egress) ?? classifyStep(name, result, diagnostics);
      return output;
    }
    if (spool) output.plan = spool;
  }
  return output;
}

function runStep(input: PipelineInput, name: TerraformStepName, args: string[], remainingMs: number, spool?: PlanSpool, egress?: EgressJail): Promise<RunResult> {
  const spec = terraformSpec(input.profile, {
    args,
    workingDir: input.workingDir,
    limits: stepLimits(input.limits, remainingMs, name),
    // Threat row 16 / issue 11: no jail ever holds the real credentials; a door step gets placeholders.
    extraEnv: { ...goRuntimeEnv(input.limits), ...(egress?.env ?? {}) },
  });
  return input.host.run(
    egress ? { ...spec, seccompProfile: egress.seccompProfile, network: egress.network } : spec,
    input.workspace,
    { ...(input.signal ? { signal: input.signal } : {}), ...(spool ? { stdoutSink: (chunk: Buffer) => spool.write(chunk) } : {}) },
  );
}

function isLockMismatch(result: RunResult): boolean {
  return result.exit_code !== 0 && result.exit_reason === 'exited' && result.stdout.includes('Provider dependency changes detected');
}

function stepLimits(limits: PipelineLimits, remainingMs: number, step: TerraformStepName): JailLimits {
  return {
    wallTimeMs: remainingMs,
    // RLIMIT_CPU is per process; the cgroup quota bounds the rate. A step may use every core for its whole budget.
    cpuTimeMs: Math.ceil((limits.totalMs * Math.max(1, limits.cpuCores)) / 1000) * 1000,
    cpuCores: limits.cpuCores,
    memoryBytes: limits.memoryBytes,
    maxPids: STEP_MAX_PIDS,
    fileSizeBytes: limits.workspaceBytes,
    openFiles: STEP_OPEN_FILES,
    tmpfsBytes: limits.workspaceBytes,
    stdoutBytes: step === 'show' ? limits.planJsonBytes : STEP_OUTPUT_BYTES,
    stderrBytes: STEP_OUTPUT_BYTES,
  };
}

/**
 * terraform and the provider it starts (which inherits the environment) build large schemas and throw
 * them away. Collecting less often (GOGC=400; measured on `show -json` of the AWS fixture: same wall,
 * about 20% less CPU than the default, and fewer page faults than GOGC=off) while GOMEMLIMIT keeps the
 * heap well inside the step's cgroup limit. The cgroup limit still holds; these only decide when Go collects.
 */
export function goRuntimeEnv(limits: PipelineLimits): Record<string, string> {
  const heapMiB = Math.max(32, Math.floor((limits.memoryBytes * 0.4) / MiB));
  return { GOGC: '400', GOMEMLIMIT: `${heapMiB}MiB` };
}

/**
 * A plan that failed after the proxy refused a call failed because of that call (terraform's own message
 * is an SDK AccessDenied deep in a diagnostic): the error names it. security_violation, like a blocked
 * policy rule: the tenant's configuration asked for something this service does not allow, which is
 * neither a provider fault nor an internal error (resource_limit when the call was over a per-run cap).
 */
function refusedEgressError(calls: readonly EgressCall[] | undefined): ClassifiedError | null {
  const refused = calls?.find((call) => !call.allowed);
  if (!refused) return null;
  const name = refused.service === '' ? refused.method : `${refused.service}:${refused.action}`;
  const others = calls!.filter((call) => !call.allowed).length - 1;
  return {
    // A run that spent its request or byte cap hit a limit; anything else refused is against the allowlist.
    type: /\bcap\b/.test(refused.reason ?? '') ? 'resource_limit' : 'security_violation',
    // "ec2:RunInstances is not a read-only call" reads "egress refused ec2:RunInstances (not a read-only call)".
    message: `egress refused ${name} (${(refused.reason ?? 'not allowed').replace(`${name} is `, '')})`,
    detail: `region ${refused.region || '-'}, HTTP ${refused.status}${others > 0 ? `; ${others} more refused call(s) in result.egress` : ''}`,
  };
}

function warn(what: string, error: unknown): void {
  process.emitWarning(`confine: closing ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
}

/** The show step's stdout is the plan JSON, returned once as `plan_json`; the step keeps only its size. */
function redactResult(result: RunResult, redactor: Redactor, isShow: boolean): RunResult {
  return {
    ...result,
    stdout: isShow ? '' : redactor.text(result.stdout),
    stderr: redactor.text(result.stderr),
  };
}
