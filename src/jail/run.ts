// The one module that starts jailed processes. Everything it does is undone in `finally`: the cgroup is
// killed and removed whatever happened, so no process or cgroup outlives a run.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { bwrapArgs } from './bwrap-args.js';
import type { CgroupDriver } from './cgroup/index.js';
import { classify, type SupervisorAction } from './classify.js';
import { JailSetupError } from './errors.js';
import { BWRAP_PROCESSES, launchArgv, rlimitNumbers, type HostTools } from './launcher.js';
import { CappedOutput } from './output.js';
import type { JailSpec, RunResult } from './spec.js';
import { WARM_FD, WARM_MAX_DATA_FILES, type WarmLauncherPool } from './warm.js';
import type { Workspace } from './workspace.js';

export interface RunDependencies {
  tools: HostTools;
  cgroups: CgroupDriver;
  seccompProgram(profile: JailSpec['seccompProfile']): Buffer;
  /** Pre-entered launchers (JailHostConfig.launcherPool); without them every run starts cold. */
  warm?: WarmLauncherPool;
}

export interface RunOptions {
  signal?: AbortSignal;
  /**
   * Work to do once every jailed process is dead, concurrently with removing the cgroup (the host
   * disposes a run's own workspace here: two independent cleanups, measured ~2 ms saved per run).
   */
  afterStop?: () => Promise<void>;
  /**
   * When given, a run whose jail is already gone returns without waiting for the cgroup's removal and
   * `afterStop`; the promise of that cleanup is handed here (the host tracks it: JailHost.ready()).
   * A run whose processes had to be killed always finishes its cleanup before returning.
   */
  deferCleanup?: (cleanup: Promise<void>) => void;
  /** Called once the jail's processes exist (tests use it to look for them from the host). */
  onStart?: (info: { cgroupProcsFiles: readonly string[]; hostUid: number }) => void;
}

const SECCOMP_FD = 3;
const FIRST_DATA_FD = 4;

export async function runJail(deps: RunDependencies, spec: JailSpec, workspace: Workspace, options: RunOptions = {}): Promise<RunResult> {
  if (options.signal?.aborted) throw new JailSetupError('run cancelled before it started');
  workspace.markUsed();
  const cgroupLimits = { memoryBytes: spec.limits.memoryBytes, maxPids: spec.limits.maxPids + BWRAP_PROCESSES, cpuCores: spec.limits.cpuCores };
  const dataFileCount = dataPipesFor(spec);
  const launcher = deps.warm && dataFileCount <= WARM_MAX_DATA_FILES ? await deps.warm.take() : undefined;
  const cgroup = launcher ? launcher.cgroup : await deps.cgroups.create(`${process.pid}-${randomBytes(6).toString('hex')}`, cgroupLimits);
  let supervised = false;
  let emptied = false;
  try {
    // The warm launcher's group was created with idle limits; the run's are in place before `go`.
    if (launcher) await cgroup.setLimits(cgroupLimits);
    const firstDataFd = launcher ? WARM_FD.firstData : FIRST_DATA_FD;
    const plan = bwrapArgs(spec, {
      workspaceHostPath: workspace.hostPath,
      tmpHostPath: workspace.tmpPath,
      seccompFd: SECCOMP_FD,
      firstDataFd,
    });
    // Warm launches pass bubblewrap's argv NUL-separated: a NUL inside an argument would split it into
    // new bubblewrap options (--bind / ...). The cold path is protected by spawn(), which refuses NULs;
    // checked for both so the two paths fail alike.
    if (plan.args.some((arg) => arg.includes('\0'))) throw new JailSetupError('jail argument contains a NUL byte');
    const lastKeptFd = firstDataFd + plan.dataFiles.length - 1;
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
    const child: ChildProcess = launcher
      ? launcher.child
      : spawn(deps.tools.sh, launchArgv(deps.tools, cgroup.procsFiles, spec.limits, workspace.identity, plan.args, lastKeptFd).slice(1), { stdio, env: {} });
    const stdout = new CappedOutput(spec.limits.stdoutBytes, () => stop('output_limit'));
    const stderr = new CappedOutput(spec.limits.stderrBytes, () => stop('output_limit'));
    stdout.attach(child.stdout!);
    stderr.attach(child.stderr!);
    // @types/node types stdio as a 5-tuple; launches use more descriptors.
    const pipeAt = (fd: number): Writable => (child.stdio as readonly unknown[])[fd] as Writable;
    feed(pipeAt(SECCOMP_FD), deps.seccompProgram(spec.seccompProfile));
    plan.dataFiles.forEach((content, i) => feed(pipeAt(firstDataFd + i), content));
    if (launcher) {
      for (let i = plan.dataFiles.length; i < WARM_MAX_DATA_FILES; i++) feed(pipeAt(WARM_FD.firstData + i), '');
      feed(pipeAt(WARM_FD.args), plan.args.map((arg) => `${arg}\0`).join(''));
      feed(child.stdin!, spec.stdin ?? ''); // no stdin: end of file at once, as /dev/null would give
      const { uid, gid } = workspace.identity;
      launcher.go({ keep: Math.max(WARM_FD.args, lastKeptFd), ...rlimitNumbers(spec.limits), uid, gid });
    } else if (spec.stdin !== undefined) {
      feed(child.stdin!, spec.stdin);
    }
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
    // The counters are final once the program is gone (bubblewrap's exiting init adds nothing that
    // matters), so they are read while waiting for that init to leave the group.
    const [usage, gone] = await Promise.all([cgroup.usage(), supervised ? Promise.resolve(false) : cgroup.killAll({ graceMs: 20 })]);
    emptied = gone;
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
    const empty = emptied || (await cgroup.killAll({ graceMs: supervised ? 0 : 20 }));
    const cleanUp = (): Promise<void> => Promise.all([cgroup.remove(), options.afterStop?.()]).then(() => undefined);
    if (empty && options.deferCleanup) {
      // Started on the next turn of the event loop: an unmount is an exec, and node forks synchronously
      // (measured 2–3 ms), which would otherwise delay the result it is meant not to delay.
      options.deferCleanup(new Promise<void>((resolve) => setImmediate(resolve)).then(cleanUp));
    } else {
      await cleanUp();
    }
  }
}

/** Pipes a launch feeds besides seccomp: the environment (`--args`) and one per `file` mount. */
function dataPipesFor(spec: JailSpec): number {
  return 1 + spec.mounts.filter((mount) => mount.kind === 'file').length;
}
