// What a launcher applies before it becomes the jail (native/jail-agent.c does it, in this order):
// enter the job cgroup, close every descriptor but the jail's, set the rlimits, drop groups and
// capabilities, setresuid/setresgid to the workspace's unprivileged uid, no_new_privs, exec bubblewrap.
// Pure: the numbers only.
import type { LaunchRequest } from './agent/protocol.js';
import type { JailLimits } from './spec.js';

export interface Identity {
  uid: number;
  gid: number;
}

/** Processes bubblewrap itself needs (monitor + pid-1 init) on top of the jail's own. */
export const BWRAP_PROCESSES = 2;
/**
 * RLIMIT_NPROC sits above pids.max so the cgroup (which reports the event) is what stops a fork bomb.
 * It counts every process of the host uid, zombies included. A session keeps one uid across requests, so
 * the exiting inits of its earlier jails would count here until reaped: the jail agent is their subreaper
 * and reaps each as it exits (native/jail-agent.c), which leaves at most the previous jail's init in the
 * moment between its leaving the cgroup and its reaping. The margin covers that moment with room to spare.
 */
const NPROC_MARGIN = 8;

/**
 * The CPU soft limit sends SIGXCPU (reported as cpu_limit); the hard limit one second later is SIGKILL.
 * RLIMIT_NPROC backs up the pids cgroup; it counts per host uid, which is why every workspace has its own.
 */
export function launchRlimits(limits: JailLimits): LaunchRequest['rlimits'] {
  const cpu = Math.max(1, Math.ceil(limits.cpuTimeMs / 1000));
  return {
    cpuSoftSeconds: cpu,
    cpuHardSeconds: cpu + 1,
    fileSizeBytes: limits.fileSizeBytes,
    openFiles: limits.openFiles,
    coreBytes: 0,
    processes: limits.maxPids + BWRAP_PROCESSES + NPROC_MARGIN,
  };
}
