// The one module that starts jailed processes (through the jail agent, which forks and execs for it).
// Everything it does is undone in `finally`: the cgroup is killed and removed whatever happened, so no
// process or cgroup outlives a run.
import { randomBytes } from 'node:crypto';
import type { JailAgent, LaunchRequest } from './agent/client.js';
import { bwrapArgs } from './bwrap-args.js';
import type { CgroupDriver } from './cgroup/index.js';
import { classify, type SupervisorAction } from './classify.js';
import { JailSetupError } from './errors.js';
import { BWRAP_PROCESSES, launchRlimits } from './launcher.js';
import { ownedName } from './liveness.js';
import { CappedOutput } from './output.js';
import type { JailSpec, RunResult } from './spec.js';
import type { WarmLauncherPool } from './warm.js';
import type { Workspace } from './workspace.js';

export interface RunDependencies {
  bwrap: string;
  agent: JailAgent;
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
  /**
   * Receives stdout as it arrives instead of the result holding it (`stdout` is then empty); the byte cap
   * still applies. For outputs too large to keep in memory (a plan's JSON).
   */
  stdoutSink?: (chunk: Buffer) => void;
  /** Called once the jail's processes exist (tests use it to look for them from the host). */
  onStart?: (info: { cgroupProcsFiles: readonly string[]; hostUid: number }) => void;
}

const SECCOMP_FD = 3;
const FIRST_DATA_FD = 4;
/** Descriptors the agent passes to a launcher besides stdio (native/jail-agent.c MAX_PASSED_FDS). */
const MAX_DATA_FILES = 1000;

export async function runJail(deps: RunDependencies, spec: JailSpec, workspace: Workspace, options: RunOptions = {}): Promise<RunResult> {
  if (options.signal?.aborted) throw new JailSetupError('run cancelled before it started');
  workspace.markUsed();
  const cgroupLimits = { memoryBytes: spec.limits.memoryBytes, maxPids: spec.limits.maxPids + BWRAP_PROCESSES, cpuCores: spec.limits.cpuCores };
  const warm = deps.warm ? await deps.warm.take() : undefined;
  const cgroup = warm ? warm.cgroup : await deps.cgroups.create(ownedName(randomBytes(6).toString('hex')), cgroupLimits);
  let supervised = false;
  let emptied = false;
  try {
    // The warm launcher's group was created with idle limits; the run's are in place before it gets the run.
    if (warm) await cgroup.setLimits(cgroupLimits);
    const plan = bwrapArgs(spec, {
      workspaceHostPath: workspace.hostPath,
      tmpHostPath: workspace.tmpPath,
      seccompFd: SECCOMP_FD,
      firstDataFd: FIRST_DATA_FD,
    });
    // A NUL inside an argument would split it into new bubblewrap options (--bind / ...); the agent
    // refuses such argv as well.
    if (plan.args.some((arg) => arg.includes('\0'))) throw new JailSetupError('jail argument contains a NUL byte');
    if (plan.dataFiles.length + 1 > MAX_DATA_FILES) throw new JailSetupError(`a jail takes at most ${MAX_DATA_FILES - 1} file mounts and environment`);
    const launch: LaunchRequest = {
      uid: workspace.identity.uid,
      gid: workspace.identity.gid,
      rlimits: launchRlimits(spec.limits),
      argv: [deps.bwrap, ...plan.args],
      dataFiles: [
        { fd: SECCOMP_FD, content: deps.seccompProgram(spec.seccompProfile) },
        ...plan.dataFiles.map((content, i) => ({ fd: FIRST_DATA_FD + i, content })),
      ],
      stdin: spec.stdin ?? '', // no stdin: end of file at once, as /dev/null would give
      ...(spec.network ? { netnsPath: spec.network.netnsPath } : {}),
    };

    let supervisor: SupervisorAction;
    const failures: unknown[] = [];
    const started = performance.now();
    // The agent runs a launcher with no cgroup files outside any job cgroup: never for a jail.
    if (cgroup.procsFiles.length === 0) throw new JailSetupError('the job cgroup has no cgroup.procs files');
    const child = warm ? warm.launcher.spawn(launch) : deps.agent.spawn(cgroup.procsFiles, launch);
    const stop = (action: NonNullable<SupervisorAction>): void => {
      supervisor ??= action;
      supervised = true;
      cgroup.killAll().catch((error: unknown) => failures.push(error));
      child.kill();
    };
    const stdout = new CappedOutput(spec.limits.stdoutBytes, () => stop('output_limit'), options.stdoutSink);
    const stderr = new CappedOutput(spec.limits.stderrBytes, () => stop('output_limit'));
    child.onOutput((stream, chunk) => (stream === 1 ? stdout : stderr).push(chunk));
    options.onStart?.({ cgroupProcsFiles: cgroup.procsFiles, hostUid: workspace.identity.uid });

    const timer = setTimeout(() => stop('timeout'), spec.limits.wallTimeMs);
    const onAbort = (): void => stop('cancelled');
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const exit = await child.exited.finally(() => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    });
    const wallMs = Math.round(performance.now() - started);
    if (failures.length > 0) throw new JailSetupError('jail supervision failed', String(failures[0]));

    const errText = stderr.text();
    const { code: exitCode, signal: hostSignal } = exit;
    if (supervisor === undefined && exit.failure !== undefined) {
      throw new JailSetupError('the launcher could not become the jail (cgroup, rlimits or identity)', exit.failure);
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
      options.deferCleanup(cleanUp());
    } else {
      await cleanUp();
    }
  }
}
