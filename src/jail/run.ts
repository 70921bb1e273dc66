// The one module that starts jailed processes. Everything it does is undone in `finally`: the cgroup is
// killed and removed whatever happened, so no process or cgroup outlives a run.
import { spawn, type StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { bwrapArgs } from './bwrap-args.js';
import type { CgroupDriver } from './cgroup/index.js';
import { classify, type SupervisorAction } from './classify.js';
import { JailSetupError } from './errors.js';
import { BWRAP_PROCESSES, launchArgv, type HostTools } from './launcher.js';
import { CappedOutput } from './output.js';
import type { JailSpec, RunResult } from './spec.js';
import type { Workspace } from './workspace.js';

export interface RunDependencies {
  tools: HostTools;
  cgroups: CgroupDriver;
  seccompProgram(profile: JailSpec['seccompProfile']): Buffer;
}

export interface RunOptions {
  signal?: AbortSignal;
  /**
   * Work to do once every jailed process is dead, concurrently with removing the cgroup (the host
   * disposes a run's own workspace here: two independent cleanups, measured ~2 ms saved per run).
   */
  afterStop?: () => Promise<void>;
  /** Called once the jail's processes exist (tests use it to look for them from the host). */
  onStart?: (info: { cgroupProcsFiles: readonly string[]; hostUid: number }) => void;
}

const SECCOMP_FD = 3;
const FIRST_DATA_FD = 4;

export async function runJail(deps: RunDependencies, spec: JailSpec, workspace: Workspace, options: RunOptions = {}): Promise<RunResult> {
  if (options.signal?.aborted) throw new JailSetupError('run cancelled before it started');
  workspace.markUsed();
  const cgroup = await deps.cgroups.create(`${process.pid}-${randomBytes(6).toString('hex')}`, {
    memoryBytes: spec.limits.memoryBytes,
    maxPids: spec.limits.maxPids + BWRAP_PROCESSES,
    cpuCores: spec.limits.cpuCores,
  });
  let supervised = false;
  try {
    const plan = bwrapArgs(spec, {
      workspaceHostPath: workspace.hostPath,
      tmpHostPath: workspace.tmpPath,
      seccompFd: SECCOMP_FD,
      firstDataFd: FIRST_DATA_FD,
    });
    const lastKeptFd = FIRST_DATA_FD + plan.dataFiles.length - 1;
    const argv = launchArgv(deps.tools, cgroup.procsFiles, spec.limits, workspace.identity, plan.args, lastKeptFd);
    const stdio: StdioOptions = [spec.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe', 'pipe', ...plan.dataFiles.map(() => 'pipe' as const)];

    let supervisor: SupervisorAction;
    const failures: unknown[] = [];
    const stop = (action: NonNullable<SupervisorAction>): void => {
      supervisor ??= action;
      supervised = true;
      cgroup.killAll().catch((error: unknown) => failures.push(error));
      child.kill('SIGKILL');
    };
    const feed = (stream: Writable, data: Buffer | string): void => {
      stream.on('error', (error: NodeJS.ErrnoException) => {
        // EPIPE/ECONNRESET are expected: the program (or bubblewrap) may close its end without reading all.
        if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') failures.push(error);
      });
      stream.end(data);
    };

    const started = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { stdio, env: {} });
    const stdout = new CappedOutput(spec.limits.stdoutBytes, () => stop('output_limit'));
    const stderr = new CappedOutput(spec.limits.stderrBytes, () => stop('output_limit'));
    stdout.attach(child.stdout!);
    stderr.attach(child.stderr!);
    feed(child.stdio[SECCOMP_FD] as Writable, deps.seccompProgram(spec.seccompProfile));
    plan.dataFiles.forEach((content, i) => feed(child.stdio[FIRST_DATA_FD + i] as Writable, content));
    if (spec.stdin !== undefined) feed(child.stdin!, spec.stdin);
    options.onStart?.({ cgroupProcsFiles: cgroup.procsFiles, hostUid: workspace.identity.uid });

    const timer = setTimeout(() => stop('timeout'), spec.limits.wallTimeMs);
    const onAbort = (): void => stop('cancelled');
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const [exitCode, hostSignal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve([code, signal]));
    }).finally(() => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    });
    const wallMs = Math.round(performance.now() - started);
    if (failures.length > 0) throw new JailSetupError('jail supervision failed', String(failures[0]));

    const errText = stderr.text();
    if (supervisor === undefined && exitCode === 125 && /cgroup\.procs|ulimit/.test(errText)) {
      throw new JailSetupError('could not set the jail\'s rlimits or enter its cgroup', errText);
    }
    if (supervisor === undefined && exitCode === 1 && errText.startsWith('bwrap: ')) {
      throw new JailSetupError('bubblewrap could not build the jail', errText.trim());
    }
    const usage = await cgroup.usage();
    const outcome = classify({ exitCode, hostSignal, supervisor, usage });
    return {
      ...outcome,
      stdout: stdout.text(),
      stderr: errText,
      stdout_truncated: stdout.truncated,
      stderr_truncated: stderr.truncated,
      wall_ms: wallMs,
      cpu_ms: usage.cpuMs,
      peak_memory_bytes: usage.peakMemoryBytes,
    };
  } finally {
    // A jail that ended by itself is normally empty within a few ms; anything still there is killed.
    await cgroup.killAll({ graceMs: supervised ? 0 : 20 });
    await Promise.all([cgroup.remove(), options.afterStop?.()]);
  }
}
