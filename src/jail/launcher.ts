// The host-side exec chain that starts a jail, built from the host's standard tools:
//   sh (enter cgroup) -> prlimit (rlimits) -> setpriv (unprivileged uid) -> bwrap (namespaces, seccomp)
// Pure: returns argv only.
import type { JailLimits } from './spec.js';

export interface HostTools {
  sh: string;
  prlimit: string;
  setpriv: string;
  bwrap: string;
}

export interface Identity {
  uid: number;
  gid: number;
}

/**
 * The shell writes its own pid into every cgroup.procs file and only then execs the rest, so the jail is
 * inside its limits before any process exists that could fork out of them. Arguments arrive
 * positionally; nothing is interpolated into the script.
 */
const ENTER_CGROUP =
  'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"';

/** Processes bubblewrap itself needs (monitor + pid-1 init) on top of the jail's own. */
export const BWRAP_PROCESSES = 2;
/** RLIMIT_NPROC sits above pids.max so the cgroup (which reports the event) is what stops a fork bomb. */
const NPROC_MARGIN = 8;

export function launchArgv(
  tools: HostTools,
  procsFiles: readonly string[],
  limits: JailLimits,
  identity: Identity,
  bwrapArgs: readonly string[],
): string[] {
  const cpuSeconds = Math.max(1, Math.ceil(limits.cpuTimeMs / 1000));
  return [
    tools.sh, '-c', ENTER_CGROUP, 'confine-enter', String(procsFiles.length), ...procsFiles,
    tools.prlimit,
    // Soft limit sends SIGXCPU (reported as cpu_limit); the hard limit one second later is SIGKILL.
    `--cpu=${cpuSeconds}:${cpuSeconds + 1}`,
    `--fsize=${limits.fileSizeBytes}`,
    `--nofile=${limits.openFiles}`,
    '--core=0',
    // Backup for the pids cgroup; counted per host uid, which is why every workspace has its own.
    `--nproc=${limits.maxPids + BWRAP_PROCESSES + NPROC_MARGIN}`,
    '--',
    tools.setpriv,
    `--reuid=${identity.uid}`, `--regid=${identity.gid}`, '--clear-groups',
    '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs',
    '--',
    tools.bwrap, ...bwrapArgs,
  ];
}
