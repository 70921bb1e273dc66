// Pre-entered launchers. On cgroup v1 the first write to a cgroup.procs file after a quiet moment waits
// for an RCU grace period (the kernel's cgroup_threadgroup_rwsem); measured with `strace -T` at 4–20 ms
// per launch on this host, the largest single cost of starting a jail. A warm launcher pays it ahead of
// demand: a bash already inside a fresh, empty job cgroup, blocked on a control socket. At `go` it gets
// the run's numbers, closes every other descriptor, sets the rlimits and execs setpriv -> bwrap, whose
// arguments arrive NUL-separated on a pipe (read into an array by `mapfile -d ''`, expanded as
// "${args[@]}"), so nothing is interpolated anywhere.
// Each launcher serves exactly one run, in the cgroup it was created with; limits are written at `go`,
// before the jail exists. If the service dies, the control socket closes and the waiting bash exits.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { CgroupDriver, CgroupLimits, JobCgroup } from './cgroup/index.js';
import type { HostTools } from './launcher.js';

export const WARM_FD = { seccomp: 3, control: 4, args: 5, firstData: 6 } as const;
/** Data pipes prepared per launcher; a spec with more `file` mounts starts cold. */
export const WARM_MAX_DATA_FILES = 12;
/** Until `go`, the group holds only the waiting shell. Limits only ever go down (see setLimits). */
const IDLE_LIMITS: CgroupLimits = { memoryBytes: 2 ** 52, maxPids: 4, cpuCores: 1 };

const WARM_SCRIPT =
  'setpriv=$1; bwrap=$2; n=$3; shift 3; ' +
  'while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; ' +
  'echo ready >&4; ' +
  'read -r keep cpu fsize nofile nproc uid gid <&4 || exit 0; exec 4<&-; ' +
  'for fd in /proc/self/fd/*; do fd=${fd##*/}; ' +
  'if [ "$fd" -gt "$keep" ] && [ -e "/proc/self/fd/$fd" ]; then exec {fd}>&-; fi; done; ' +
  'ulimit -S -t "$cpu" && ulimit -H -t $((cpu+1)) && ulimit -f "$fsize" -n "$nofile" -c 0 -u "$nproc" || exit 125; ' +
  'mapfile -d "" -u 5 args || exit 125; exec 5<&-; ' +
  'exec "$setpriv" --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- "$bwrap" "${args[@]}"';

export interface WarmLauncher {
  readonly child: ChildProcess;
  readonly cgroup: JobCgroup;
  /** Sends the run's numbers; the launcher then execs into the jail. */
  go(numbers: { keep: number; cpu: number; fsize: number; nofile: number; nproc: number; uid: number; gid: number }): void;
}

export class WarmLauncherPool {
  private readonly waiting: Promise<WarmLauncher>[] = [];

  constructor(
    private readonly tools: HostTools,
    private readonly cgroups: CgroupDriver,
    private readonly size: number,
  ) {}

  /** A launcher that is inside its cgroup and waiting (started now if the pool is empty). */
  async take(): Promise<WarmLauncher> {
    for (;;) {
      const launcher = await (this.waiting.shift() ?? this.start());
      if (launcher.child.exitCode === null && launcher.child.signalCode === null) return launcher;
      await launcher.cgroup.remove(); // died while idle (killed from outside): take another
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
      entry.value.child.kill('SIGKILL');
      await entry.value.cgroup.killAll();
      await entry.value.cgroup.remove();
    }
  }

  /** Tops the pool up; called after a run (spawning blocks node's event loop: not inside a run). */
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
    const cgroup = await this.cgroups.create(`${process.pid}-${randomBytes(6).toString('hex')}`, IDLE_LIMITS);
    const stdio: StdioOptions = ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', ...Array.from({ length: WARM_MAX_DATA_FILES }, () => 'pipe' as const)];
    const child = spawn(this.tools.sh, ['--noprofile', '--norc', '-c', WARM_SCRIPT, 'confine-warm', this.tools.setpriv, this.tools.bwrap, String(cgroup.procsFiles.length), ...cgroup.procsFiles], { stdio, env: {} });
    const control = child.stdio[WARM_FD.control] as Duplex;
    try {
      await new Promise<void>((resolve, reject) => {
        let text = '';
        const onData = (chunk: Buffer): void => {
          text += chunk.toString();
          if (text.includes('ready\n')) {
            control.off('data', onData);
            control.resume(); // keep flowing: the child's 'close' waits for this socket's end
            resolve();
          }
        };
        control.on('data', onData);
        child.once('error', reject);
        child.once('exit', (code) => reject(new Error(`warm launcher exited (${code}) before it was ready`)));
      });
    } catch (error) {
      child.kill('SIGKILL');
      await cgroup.killAll();
      await cgroup.remove();
      throw error;
    }
    child.removeAllListeners('exit');
    child.removeAllListeners('error');
    return {
      child,
      cgroup,
      go(n) {
        control.end(`${n.keep} ${n.cpu} ${n.fsize} ${n.nofile} ${n.nproc} ${n.uid} ${n.gid}\n`);
      },
    };
  }
}
