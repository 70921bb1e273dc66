export interface CgroupLimits {
  memoryBytes: number;
  maxPids: number;
  cpuCores: number;
}

export interface CgroupUsage {
  cpuMs: number;
  peakMemoryBytes: number;
  /** The kernel's OOM killer acted inside the group. */
  oomKilled: boolean;
  /** A fork or clone failed because pids.max was reached. */
  pidsLimitHit: boolean;
}

/** One job's cgroup, possibly spread over several v1 hierarchies. */
export interface JobCgroup {
  /** The cgroup.procs files a process writes its own pid into, before exec, to enter the group. */
  readonly procsFiles: readonly string[];
  usage(): Promise<CgroupUsage>;
  /**
   * Kills every process in the group (atomically: frozen first on v1, cgroup.kill on v2). With `graceMs`,
   * first waits that long for the group to empty by itself: after a jail ended on its own, bubblewrap's
   * pid-1 init is typically still exiting (its monitor returns as soon as init reports the status).
   * Resolves true when the group was (or became) empty without anything being killed.
   */
  killAll(options?: { graceMs?: number }): Promise<boolean>;
  /** (Re)writes the group's limits: a pre-created group gets the run's limits before the jail starts. */
  setLimits(limits: CgroupLimits): Promise<void>;
  /** Waits for the group to empty, then removes it. Idempotent. */
  remove(): Promise<void>;
}

export interface CgroupDriver {
  readonly version: 1 | 2;
  readonly controllers: readonly string[];
  /** Where this service's job groups live (below the service's own cgroup). */
  readonly roots: readonly string[];
  /**
   * Makes the job groups' parent ready (idempotent). On v2 this moves the service's processes out of its
   * delegated cgroup first; it throws CgroupDelegationError when that cgroup is not the service's to use.
   * Called at detection, before the jail agent exists; create() calls it too.
   */
  prepare(): Promise<void>;
  create(name: string, limits: CgroupLimits): Promise<JobCgroup>;
  /** Names of job groups present now (for sweeping what a crashed predecessor left). */
  list(): Promise<string[]>;
  removeByName(name: string): Promise<void>;
}
