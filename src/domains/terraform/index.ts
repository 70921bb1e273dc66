// Entry point of the Terraform domain: request -> intake -> static policy -> jailed pipeline -> result.
// Tenant errors come back as results with a classified error; only internal failures throw.
import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Config } from '../../config/settings.js';
import { checkEgressSocketRoom } from '../../jail/egress-dirs.js';
import { DEFAULT_WORKSPACE_INODES, type JailHost } from '../../jail/host.js';
import { findExecutable } from '../../jail/host-tools.js';
import { MiB } from '../../jail/limits.js';
import type { TerraformProfile } from './profile.js';
import type { Workspace } from '../../jail/workspace.js';
import { DomainError } from '../errors.js';
import { intake, intakeLimits, resolveWorkingDir } from './intake/index.js';
import { isConfigFile } from './policy/files.js';
import { LOCK_FILE_NAME, lockFileFor, mirrorVersions } from './lockfile.js';
import { createAnalysisRunner, type AnalysisLimits, type AnalysisRunner } from './analysis/runner.js';
import { runPipeline } from './pipeline.js';
import { PLAN_FILE } from './plan-spool.js';
import { Redactor } from './redact.js';
import { checkCredentials } from './credentials.js';
import { EGRESS_OFF_MESSAGE, egressDecision, openEgress, type OpenEgress } from './egress-step.js';
import type { AwsCredentials, Finding, TerraformProgress, TerraformRequest, TerraformResult } from './types.js';

export interface TerraformRunOptions {
  signal?: AbortSignal;
  onProgress?: (progress: TerraformProgress) => void;
  /**
   * Receives the plan's JSON (redacted) as a file, valid only until the returned promise settles (the jobs
   * layer streams it to the artifact store, the CLI copies it to --out). Plans of any size go this way.
   */
  onPlan?: (plan: PlanFile) => Promise<void>;
  /** Plans up to this many bytes are also returned parsed, as `plan_json` (default 256 KiB). */
  inlinePlanMaxBytes?: number;
  /** A failure closing the plan step's egress door or proxy (the run's result stands). Default: the runner's (createTerraformRunner defaults), else a process warning. */
  onCleanupError?: (what: string, error: unknown) => void;
}

export interface PlanFile {
  /** Host path of the plan JSON. */
  path: string;
  bytes: number;
}

export const DEFAULT_INLINE_PLAN_MAX_BYTES = 256 * 1024;
/** Resources a summary lists by address (counts cover all); more would make results unboundedly large. */
export const SUMMARY_MAX_RESOURCES = 1000;

export interface TerraformRunner {
  run(request: TerraformRequest, options?: TerraformRunOptions): Promise<TerraformResult>;
}

/** What every run of one runner shares unless a run's own options say otherwise. */
export interface TerraformRunnerDefaults {
  /**
   * Where a failure closing a run's egress door or proxy is reported when the run names no handler of its
   * own (the service passes its logger: such a failure may leave a door process or a socket behind).
   */
  onCleanupError?: (what: string, error: unknown) => void;
}

export function createTerraformRunner(host: JailHost, config: Readonly<Config>, defaults: TerraformRunnerDefaults = {}): TerraformRunner {
  if (config.egress.mode === 'aws') checkEgressSocketRoom(config.stateDir);
  let profile: TerraformProfile | undefined;
  let mirror: Promise<Map<string, string>> | undefined;
  const resolveProfile = (): TerraformProfile => {
    if (profile) return profile;
    const found = findExecutable(config.terraformBin);
    if (!found) throw new Error(`terraform binary not found: ${config.terraformBin} (set TERRAFORM_BIN)`);
    profile = { terraformHostPath: realpathSync(found), mirrorHostPath: config.providerMirror === '' ? '' : realpathSync(config.providerMirror) };
    return profile;
  };
  const mirrorIndex = (): Promise<Map<string, string>> => (mirror ??= mirrorVersions(resolveProfile().mirrorHostPath));
  const analysis = createAnalysisRunner(host);
  return {
    run: (request, options = {}) => {
      const onCleanupError = options.onCleanupError ?? defaults.onCleanupError;
      return runTerraform(host, config, resolveProfile, mirrorIndex, analysis, request, onCleanupError ? { ...options, onCleanupError } : options);
    },
  };
}

async function runTerraform(
  host: JailHost,
  config: Readonly<Config>,
  profile: () => TerraformProfile,
  mirrorIndex: () => Promise<Map<string, string>>,
  analysis: AnalysisRunner,
  request: TerraformRequest,
  options: TerraformRunOptions,
): Promise<TerraformResult> {
  const deadline = performance.now() + config.maxExecutionTimeSeconds * 1000;
  const redactor = new Redactor(credentialValues(request.credentials));
  const result: TerraformResult = { status: 'failed', error: null, findings: [], diagnostics: [], summary: null, steps: [], plan_json: null };
  let workspace: Workspace | undefined;
  try {
    if (request.mode !== 'validate' && request.mode !== 'plan') throw new DomainError('validation_error', 'mode must be validate or plan');
    const credentials = validCredentials(request.credentials);
    const upload = await intake(request.input, intakeLimits(config));
    const workingDir = resolveWorkingDir(request.working_dir, upload);
    result.findings.push(...upload.stripped.map(strippedFinding));
    // Parsed in the analysis jail, never in this process (analysis/runner.ts says why).
    const configFiles = upload.files.filter((file) => isConfigFile(file.path));
    const { findings, providers } = await analysis.policy(
      configFiles,
      { workingDir, allowedProviders: config.allowedProviders, warnRules: warnRules(config) },
      analysisLimits(config, deadline),
      options.signal ? { signal: options.signal } : {},
    );
    result.findings.push(...findings);
    const blocking = findings.find((finding) => finding.severity === 'block');
    if (blocking) {
      const where = blocking.line === undefined ? blocking.file : `${blocking.file}:${blocking.line}`;
      throw new DomainError('security_violation', `policy: ${blocking.message}`, `${blocking.rule} at ${where}`);
    }
    // After policy: a blocked configuration is told so first, whatever its credentials.
    const egress = egressDecision(config.egress.mode, { mode: request.mode, hasCredentials: credentials !== undefined }, providers);
    if (egress === 'refuse') throw new DomainError('validation_error', EGRESS_OFF_MESSAGE, 'the plan uses the AWS provider and the request carries credentials');
    // The service's lock file, unless policy kept the tenant's own (then init verifies its hashes).
    const lockPath = workingDir === '' ? LOCK_FILE_NAME : `${workingDir}/${LOCK_FILE_NAME}`;
    const lock = upload.files.some((file) => file.path === lockPath) ? undefined : lockFileFor(new Set(providers), await mirrorIndex());
    workspace = await host.createWorkspace({ sizeBytes: config.workspaceMiB * MiB, maxInodes: DEFAULT_WORKSPACE_INODES });
    await workspace.seed(lock === undefined ? upload.files : [...upload.files, { path: lockPath, content: lock }]);
    const output = await runPipeline({
      host,
      profile: profile(),
      workspace,
      workingDir,
      mode: request.mode,
      serviceLock: lock !== undefined,
      limits: {
        totalMs: Math.max(1, Math.floor(deadline - performance.now())),
        memoryBytes: config.terraformMemoryMiB * MiB,
        cpuCores: config.cpuCores,
        workspaceBytes: config.workspaceMiB * MiB,
        planJsonBytes: config.tfMaxPlanJsonMiB * MiB,
      },
      redactor,
      ...(egress === 'door' && credentials ? { openEgress: egressOpener(host, config, credentials, workspace) } : {}),
      ...(options.onCleanupError ? { onCleanupError: options.onCleanupError } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    result.steps = output.steps;
    result.diagnostics = output.diagnostics;
    result.error = output.error === null ? null : redactor.deep(output.error);
    if (output.egress !== undefined) result.egress = redactor.deep(output.egress);
    if (output.egressDropped !== undefined) result.egress_dropped = output.egressDropped;
    if (output.plan !== null) {
      const spool = output.plan;
      try {
        // Read in the analysis jail: a plan's JSON can be as large as TF_MAX_PLAN_JSON_SIZE.
        result.summary = redactor.deep(
          await analysis.summary(spool.workspace, PLAN_FILE, SUMMARY_MAX_RESOURCES, analysisLimits(config, deadline), options.signal ? { signal: options.signal } : {}),
        );
        if (spool.bytes <= (options.inlinePlanMaxBytes ?? DEFAULT_INLINE_PLAN_MAX_BYTES)) {
          result.plan_json = redactor.deep(JSON.parse(await readFile(spool.path, 'utf8')) as unknown);
        }
        await options.onPlan?.({ path: spool.path, bytes: spool.bytes });
      } finally {
        await spool.dispose();
      }
    }
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    result.error = redactor.deep(error.toJSON());
  } finally {
    await workspace?.dispose();
  }
  result.status = result.error === null ? 'succeeded' : 'failed';
  return result;
}

/** The analysis jail gets a Terraform step's limits and what is left of the run's deadline. */
function analysisLimits(config: Readonly<Config>, deadline: number): AnalysisLimits {
  return { memoryBytes: config.terraformMemoryMiB * MiB, cpuCores: config.cpuCores, wallTimeMs: Math.max(1, Math.floor(deadline - performance.now())) };
}

/** TF_POLICY_WARN plus the seeds' own switches (BLOCK_LOCAL_EXEC, BLOCK_EXTERNAL_DATA). */
function warnRules(config: Readonly<Config>): string[] {
  const rules = [...config.tfPolicyWarn];
  if (!config.blockLocalExec) rules.push('provisioner');
  if (!config.blockExternalData) rules.push('data_external');
  return rules;
}

function strippedFinding(path: string): Finding {
  return { rule: 'stripped_file', severity: 'warn', file: path, message: 'removed from the upload before terraform ran (forbidden file)' };
}

function credentialValues(credentials: AwsCredentials | undefined): string[] {
  if (!credentials) return [];
  return [credentials.aws_access_key_id, credentials.aws_secret_access_key, credentials.aws_session_token].filter(
    (value): value is string => typeof value === 'string',
  );
}

/** The one credentials rule (credentials.ts), also for callers that bypassed the HTTP schema (CLI, tests). */
function validCredentials(credentials: unknown): AwsCredentials | undefined {
  if (credentials === undefined) return undefined;
  const checked = checkCredentials(credentials);
  if (!checked.ok) throw new DomainError('validation_error', checked.message, checked.field);
  return checked.credentials;
}

/** The plan step's door: a proxy on a socket only the run's uid can reach, and the agent's network namespace. */
function egressOpener(host: JailHost, config: Readonly<Config>, credentials: AwsCredentials, workspace: Workspace): () => Promise<OpenEgress> {
  const owner = { uid: workspace.identity.uid, gid: workspace.identity.gid };
  return () => openEgress({ doors: host, stateDir: host.config.stateDir, config: config.egress, credentials, owner });
}
