// The jail host: wires tools, the jail agent, cgroups, identities, workspaces and compiled seccomp programs
// together once, and removes what a crashed predecessor left before the first run.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { detectCgroups, type CgroupDriver } from './cgroup/index.js';
import { openDoor, type Door, type DoorOptions } from './door.js';
import { JailAgent } from './agent/client.js';
import { resolveHostTools, type AllHostTools } from './host-tools.js';
import { IdentityPool } from './identity.js';
import type { ProgramSource } from './profiles/host-programs.js';
import { sweepPartialTrees } from './profiles/program-tree.js';
import { isStale } from './liveness.js';
import { sweepEgressDirs } from './egress-dirs.js';
import { runJail, type RunOptions } from './run.js';
import { checkStateDirReachable } from './state-dir.js';
import { compileSeccomp, hostSeccompArch, type CompiledSeccomp } from './seccomp/compile.js';
import { POLICIES } from './seccomp/policy.js';
import { WarmLauncherPool } from './warm.js';
import type { JailSpec, RunResult, SeccompProfileName } from './spec.js';
import { WorkspaceManager, type Workspace, type WorkspaceOptions } from './workspace.js';

export interface JailHostConfig {
  stateDir: string;
  uidBase: number;
  uidCount: number;
  /**
   * Directory below the service's own cgroup that holds its job groups (default `confine`). Every host
   * using one name sweeps the others' dead groups there; a test that plants dead-looking groups on purpose
   * uses its own name so no other process's sweep takes them first.
   */
  cgroupGroup?: string;
  /**
   * Workspaces kept mounted ahead of demand (0 = none, the default): a pool takes the tmpfs mount and
   * the uid lease off the request's path. Pooled workspaces were never used by a jail.
   */
  workspacePool?: number;
  /**
   * Launchers kept waiting inside fresh job cgroups (0 = none, the default): entering a cgroup costs an
   * RCU grace period on cgroup v1 (4–20 ms measured), which a pool pays ahead of demand. See warm.ts.
   */
  launcherPool?: number;
  /**
   * Return a run's result as soon as its jail is gone, finishing the cgroup removal and the workspace
   * unmount in the background (default false). Runs whose processes had to be killed still clean up
   * first. `ready()` awaits the background work and reports its failures.
   */
  asyncCleanup?: boolean;
}

export interface SweepReport {
  cgroups: string[];
  workspaces: string[];
  identities: number;
  /** Half-built program trees of a builder that died. */
  programTrees: string[];
  /** Egress proxy socket directories of runs whose process died (egress-dirs.ts). */
  egressDirs: string[];
}

export const DEFAULT_WORKSPACE_INODES = 20_000;

export class JailHost {
  private constructor(
    readonly config: JailHostConfig,
    readonly tools: AllHostTools,
    private readonly agent: JailAgent,
    readonly cgroups: CgroupDriver,
    readonly seccomp: Readonly<Record<SeccompProfileName, CompiledSeccomp>>,
    private readonly identities: IdentityPool,
    readonly workspaces: WorkspaceManager,
    private readonly warm: WarmLauncherPool | undefined,
  ) {}

  /** How shell profiles find programs: the host's ldd, and the state directory's program trees. */
  get programSource(): ProgramSource {
    return { lddPath: this.tools.ldd, treesDir: join(this.config.stateDir, 'programs') };
  }

  private readonly cleanups = new Set<Promise<void>>();
  private readonly cleanupFailures: unknown[] = [];

  private track(cleanup: Promise<void>): void {
    this.cleanups.add(cleanup);
    cleanup.then(
      () => this.cleanups.delete(cleanup),
      (error: unknown) => {
        this.cleanups.delete(cleanup);
        this.cleanupFailures.push(error); // surfaced by ready()
      },
    );
  }

  static async open(config: JailHostConfig): Promise<JailHost> {
    if (process.getuid?.() !== 0) {
      throw new Error('confine must run as root: it creates cgroups and drops each jail to its own unprivileged uid');
    }
    await mkdir(config.stateDir, { recursive: true, mode: 0o711 });
    await checkStateDirReachable(config.stateDir); // before anything is built that no jail could use
    const tools = resolveHostTools();
    const cgroups = await detectCgroups(config.cgroupGroup);
    const arch = hostSeccompArch();
    const seccomp = {
      shell: compileSeccomp(POLICIES.shell, arch),
      terraform: compileSeccomp(POLICIES.terraform, arch),
      'terraform-egress': compileSeccomp(POLICIES['terraform-egress'], arch),
      node: compileSeccomp(POLICIES.node, arch),
    };
    const identities = new IdentityPool(config);
    const agent = new JailAgent();
    const workspaces = new WorkspaceManager(config.stateDir, identities, agent, config.workspacePool ?? 0);
    const warm = config.launcherPool ? new WarmLauncherPool(agent, cgroups, config.launcherPool) : undefined;
    const host = new JailHost(config, tools, agent, cgroups, seccomp, identities, workspaces, warm);
    await host.sweep();
    return host;
  }

  /** Removes cgroups, workspaces, uid leases and egress socket dirs whose owning process no longer exists. */
  async sweep(): Promise<SweepReport> {
    const cgroups: string[] = [];
    for (const name of await this.cgroups.list()) {
      if (isStale(name)) {
        await this.cgroups.removeByName(name);
        cgroups.push(name);
      }
    }
    const workspaces = await this.workspaces.sweep();
    const identities = await this.identities.sweep();
    const programTrees = await sweepPartialTrees(this.programSource.treesDir);
    const egressDirs = await sweepEgressDirs(this.config.stateDir);
    return { cgroups, workspaces, identities, programTrees, egressDirs };
  }

  private replenish(): void {
    this.workspaces.refill();
    this.warm?.refill();
  }

  /**
   * Resolves once background cleanups are done and the pools (if configured) are full again; rejects
   * with the first background cleanup failure. Callers with idle time (and tests) await it.
   */
  async ready(): Promise<void> {
    await Promise.allSettled([...this.cleanups]);
    await Promise.all([this.workspaces.poolReady(), this.warm?.ready()]);
    const failure = this.cleanupFailures.shift();
    if (failure !== undefined) throw failure;
  }

  /** Releases what the host holds ahead of demand (pooled workspaces and launchers). Started runs are unaffected. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.cleanups]);
    await Promise.all([this.workspaces.drainPool(), this.warm?.close()]);
  }

  /**
   * Opens a door (src/jail/door.ts): a fresh network namespace with `lo` and a listener on
   * 127.0.0.1:port relayed to `socketPath`. A run joins it with `JailSpec.network: { netnsPath }`;
   * close() it once the run is over (it never outlives the agent either).
   */
  openDoor(options: DoorOptions): Promise<Door> {
    return openDoor(this.agent, options);
  }

  createWorkspace(options: WorkspaceOptions): Promise<Workspace> {
    return this.workspaces.create(options);
  }

  /** Runs one jail in the given workspace, or in a fresh one that is removed afterwards. */
  async run(spec: JailSpec, workspace?: Workspace, options: RunOptions = {}): Promise<RunResult> {
    const own = workspace ? undefined : await this.createWorkspace({ sizeBytes: spec.limits.tmpfsBytes, maxInodes: DEFAULT_WORKSPACE_INODES });
    let deferred = false;
    try {
      return await runJail(
        { bwrap: this.tools.bwrap, agent: this.agent, cgroups: this.cgroups, seccompProgram: (profile) => this.seccomp[profile].program, warm: this.warm },
        spec,
        (workspace ?? own)!,
        {
          ...options,
          ...(own ? { afterStop: () => own.dispose() } : {}),
          ...(this.config.asyncCleanup
            ? {
                deferCleanup: (cleanup: Promise<void>) => {
                  deferred = true;
                  this.track(cleanup);
                },
              }
            : {}),
        },
      );
    } finally {
      if (!deferred) await own?.dispose(); // deferred: the tracked cleanup disposes it
      this.replenish();
    }
  }
}
