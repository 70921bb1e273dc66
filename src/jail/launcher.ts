// The host-side exec chain that starts a jail, built from the host's standard tools:
//   bash (close inherited fds, enter cgroup) -> prlimit (rlimits) -> setpriv (unprivileged uid) -> bwrap
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
 * First the shell closes every descriptor above `keep` (the seccomp and data pipes bubblewrap reads).
 * Node marks its own descriptors close-on-exec, but whatever the service itself inherited without that
 * flag (a supervisor's pipe, a socket) would otherwise pass through bubblewrap into the jail — found by
 * tests/jail containment `inherited_fds_none_beyond_stdio`. bubblewrap has no option to close them and
 * dash cannot name descriptors above 9, hence bash (essential on Debian).
 * Then it writes its own pid into every cgroup.procs file and only then execs the rest, so the jail is
 * inside its limits before any process exists that could fork out of them. Arguments arrive
 * positionally; nothing is interpolated into the script.
 */
const ENTER_CGROUP =
  'keep=$1; n=$2; shift 2; ' +
  'for fd in /proc/self/fd/*; do fd=${fd##*/}; ' +
  'if [ "$fd" -gt "$keep" ] && [ -e "/proc/self/fd/$fd" ]; then exec {fd}>&-; fi; done; ' +
  'while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"';

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
  /** Highest descriptor the jail's launch needs (seccomp and data pipes); every higher one is closed. */
  lastKeptFd = 2,
): string[] {
  const cpuSeconds = Math.max(1, Math.ceil(limits.cpuTimeMs / 1000));
  return [
    tools.sh, '--noprofile', '--norc', '-c', ENTER_CGROUP, 'confine-enter', String(lastKeptFd), String(procsFiles.length), ...procsFiles,
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
