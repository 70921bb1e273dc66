// The service side of the analysis jail: tenant configuration is parsed (policy) and plan JSON is read
// (summary) in a fresh jail per request, never in the service process. Issue found by attack: one
// 200 KB `main.tf` nested 100k deep overflowed the stack of the WASM HCL parser that the whole process
// shared, after which every later Terraform request hung or failed until restart; a valid 5 MiB file held
// the event loop for 12-21 s and left 1.3 GB of WASM memory behind. In a jail, the same input ends one
// request with a classified error, inside a memory cgroup and a wall limit, and the service only reads a
// small, bounded JSON answer.
import { MiB } from '../../../jail/limits.js';
import type { JailHost } from '../../../jail/host.js';
import type { JailLimits, JailSpec, RunResult } from '../../../jail/spec.js';
import type { SeedFile, Workspace } from '../../../jail/workspace.js';
import { DomainError } from '../../errors.js';
import type { PlanSummary } from '../types.js';
import { buildAnalysisProfile, ENTRY_IN_JAIL, NODE_IN_JAIL, type AnalysisProfile } from './jail.js';
import { encodeJob, type AnalysisJob, type AnalysisReply, type PolicyAnswer } from './protocol.js';

export interface AnalysisLimits {
  memoryBytes: number;
  cpuCores: number;
  wallTimeMs: number;
}

export interface AnalysisOptions {
  signal?: AbortSignal;
}

export interface AnalysisRunner {
  /** Findings and providers for the upload's configuration; throws DomainError for the tenant's input. */
  policy(files: readonly SeedFile[], job: Omit<Extract<AnalysisJob, { mode: 'policy' }>, 'mode' | 'files'>, limits: AnalysisLimits, options?: AnalysisOptions): Promise<PolicyAnswer>;
  /** Summary of the plan JSON at `planFile` (relative to the workspace, which no jail has written). */
  summary(workspace: Workspace, planFile: string, maxResources: number, limits: AnalysisLimits, options?: AnalysisOptions): Promise<PlanSummary>;
}

const WORKSPACE_IN_JAIL = '/workspace';
/**
 * The HCL parser is a 6.5 MB WASM module compiled at every start: V8's baseline compiler alone halves that
 * (first parse 140 -> 70 ms, 190 -> 120 ms CPU measured here) and parses a 5 MiB file no slower (14 s vs 15 s).
 */
const LIFTOFF_ONLY = '--liftoff-only';
/** Answers are small: findings and providers are capped in the jail (protocol.ts). */
const REPLY_BYTES = 2 * MiB;

export function createAnalysisRunner(host: JailHost): AnalysisRunner {
  let profile: Promise<AnalysisProfile> | undefined;
  const spec = async (stdin: Buffer, limits: AnalysisLimits): Promise<JailSpec> => {
    profile ??= buildAnalysisProfile(host.programSource);
    profile.catch(() => (profile = undefined)); // a failed build is retried next time
    const { mounts } = await profile;
    // V8's own heap limit sits at the cgroup's: input that exhausts memory meets the kernel's limit first and
    // is reported from kernel evidence (memory_limit -> resource_limit), not as V8 aborting the process.
    const heapMiB = Math.max(64, Math.ceil(limits.memoryBytes / MiB));
    return {
      argv: [NODE_IN_JAIL, `--max-old-space-size=${heapMiB}`, '--disallow-code-generation-from-strings', LIFTOFF_ONLY, ENTRY_IN_JAIL],
      // UV_USE_IO_URING=0: libuv must not try io_uring, which the seccomp profile kills.
      env: { HOME: WORKSPACE_IN_JAIL, TMPDIR: '/tmp', UV_USE_IO_URING: '0', LC_ALL: 'C' },
      cwd: WORKSPACE_IN_JAIL,
      mounts,
      workspacePath: WORKSPACE_IN_JAIL,
      seccompProfile: 'node',
      limits: jailLimits(limits),
      stdin,
    };
  };

  return {
    async policy(files, job, limits, options = {}) {
      const payloads = files.map((file) => (typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : file.content));
      const stdin = encodeJob({ mode: 'policy', ...job, files: files.map((file, i) => ({ path: file.path, bytes: payloads[i]!.length })) }, payloads);
      const result = await host.run(await spec(stdin, limits), undefined, options.signal ? { signal: options.signal } : {});
      return interpret<PolicyAnswer>(result, 'configuration analysis', limits);
    },

    async summary(workspace, planFile, maxResources, limits, options = {}) {
      const stdin = encodeJob({ mode: 'summary', planPath: `${WORKSPACE_IN_JAIL}/${planFile}`, maxResources });
      const result = await host.run(await spec(stdin, limits), workspace, options.signal ? { signal: options.signal } : {});
      return interpret<PlanSummary>(result, 'plan summary', limits);
    },
  };
}

function jailLimits(limits: AnalysisLimits): JailLimits {
  return {
    wallTimeMs: limits.wallTimeMs,
    cpuTimeMs: Math.max(1000, Math.ceil(limits.wallTimeMs / 1000) * 1000 * Math.max(1, Math.ceil(limits.cpuCores))),
    cpuCores: limits.cpuCores,
    memoryBytes: limits.memoryBytes,
    // node's main thread, libuv's pool, V8's platform workers, bubblewrap's own two.
    maxPids: 32,
    fileSizeBytes: MiB,
    openFiles: 128,
    tmpfsBytes: 8 * MiB,
    stdoutBytes: REPLY_BYTES,
    stderrBytes: 64 * 1024,
  };
}

/** The jail's answer, or why there is none, as the tenant's error or (for our own bugs) a thrown Error. */
export function interpret<T>(result: RunResult, what: string, limits: AnalysisLimits): T {
  switch (result.exit_reason) {
    case 'memory_limit':
      throw new DomainError('resource_limit', `${what} exceeded the memory limit (${Math.round(limits.memoryBytes / MiB)} MiB)`, 'the configuration is too large or too complex to read');
    case 'timeout':
      throw new DomainError('execution_timeout', `${what} exceeded the time limit`, `${Math.round(limits.wallTimeMs / 1000)} s`);
    case 'cpu_limit':
    case 'pids_limit':
    case 'file_size_limit':
    case 'output_limit':
      throw new DomainError('resource_limit', `${what} hit the ${result.exit_reason.replace('_', ' ')}`);
    case 'cancelled':
      throw new DomainError('unknown_error', 'run cancelled', `during ${what}`);
    case 'seccomp':
    case 'signaled':
      throw new Error(`${what} jail ended by ${result.exit_reason} (${result.signal ?? ''}): ${result.stderr.slice(0, 500)}`);
    case 'exited':
      break;
  }
  let reply: AnalysisReply<T>;
  try {
    reply = JSON.parse(result.stdout) as AnalysisReply<T>;
  } catch {
    throw new Error(`${what} jail gave no answer (exit code ${String(result.exit_code)}): ${result.stderr.slice(0, 500)}`);
  }
  if (reply.ok) return reply.answer;
  // unknown_error from the jail is an exception in our own code there: an internal failure, logged as one.
  if (reply.error.type === 'unknown_error') throw new Error(`${what}: ${reply.error.message}: ${reply.error.detail ?? ''}`);
  throw new DomainError(reply.error.type, reply.error.message, reply.error.detail);
}
