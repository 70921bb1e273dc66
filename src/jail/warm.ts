// Pre-entered launchers. On cgroup v1 the first write to a cgroup.procs file after a quiet moment waits
// for an RCU grace period (the kernel's cgroup_threadgroup_rwsem); measured with `strace -T` at 4–20 ms
// per launch on this host, the largest single cost of starting one jail when the host is idle. A warm
// launcher pays it ahead of demand: the jail agent forks it into a fresh, empty job cgroup, where it waits
// for a run. Each launcher serves exactly one run, in the cgroup it was created with; the run's limits are
// written before it is handed the run. If the service dies, the agent and its launchers die with it.
import { randomBytes } from 'node:crypto';
import type { JailAgent, PreparedLauncher } from './agent/client.js';
import type { CgroupDriver, CgroupLimits, JobCgroup } from './cgroup/index.js';
import { ownedName } from './liveness.js';

/** Until the run, the group holds only the waiting launcher. Limits only ever go down (see setLimits). */
const IDLE_LIMITS: CgroupLimits = { memoryBytes: 2 ** 52, maxPids: 4, cpuCores: 1 };

export interface WarmLauncher {
  readonly launcher: PreparedLauncher;
  readonly cgroup: JobCgroup;
}

export class WarmLauncherPool {
  private readonly waiting: Promise<WarmLauncher>[] = [];

  constructor(
    private readonly agent: JailAgent,
    private readonly cgroups: CgroupDriver,
    private readonly size: number,
  ) {}

  /** A launcher that is inside its cgroup and waiting (started now if the pool is empty). */
  async take(): Promise<WarmLauncher> {
    for (;;) {
      const warm = await (this.waiting.shift() ?? this.start());
      if (warm.launcher.waiting) return warm;
      await warm.cgroup.remove(); // died while idle (killed from outside): take another
    }
  }

  /** Resolves once every pooled launcher is waiting (refills started by earlier takes have finished). */
  async ready(): Promise<void> {
    await Promise.allSettled(this.waiting);
  }

  /** Kills idle launchers and removes their groups (at shutdown). */
  async close(): Promise<void> {
    const idle = await Promise.allSettled(this.waiting.splice(0));
    for (const entry of idle) {
      if (entry.status !== 'fulfilled') continue;
      await entry.value.launcher.release();
      await entry.value.cgroup.killAll();
      await entry.value.cgroup.remove();
    }
  }

  /** Tops the pool up; called after a run. */
  refill(): void {
    while (this.waiting.length < this.size) {
      const pending = this.start();
      pending.catch(() => {
        const index = this.waiting.indexOf(pending);
        if (index >= 0) this.waiting.splice(index, 1); // retried on the next take; the taker sees the error
      });
      this.waiting.push(pending);
    }
  }

  private async start(): Promise<WarmLauncher> {
    const cgroup = await this.cgroups.create(ownedName(randomBytes(6).toString('hex')), IDLE_LIMITS);
    try {
      return { launcher: await this.agent.prepare(cgroup.procsFiles), cgroup };
    } catch (error) {
      await cgroup.killAll();
      await cgroup.remove();
      throw error;
    }
  }
}
