// The host-side exec chain that starts a jail, built from the host's standard tools:
//   bash (close inherited fds, rlimits, enter cgroup) -> setpriv (unprivileged uid) -> bwrap
// Pure: returns argv only.
import type { JailLimits } from './spec.js';

export interface HostTools {
  sh: string;
  setpriv: string;
  bwrap: string;
}

export interface Identity {
  uid: number;
  gid: number;
}

/**
 * One shell, three steps, then exec:
 * 1. Close every descriptor above `keep` (the seccomp and data pipes bubblewrap reads). Node marks its own
 *    descriptors close-on-exec, but whatever the service itself inherited without that flag (a
 *    supervisor's pipe, a socket) would otherwise pass through bubblewrap into the jail — found by the
 *    containment test `inherited_fds_none_beyond_stdio`. bubblewrap has no option to close them and dash
 *    cannot name descriptors above 9, hence bash (essential on Debian).
 * 2. Set the rlimits with the `ulimit` builtin (an exec of prlimit(1) less on every launch; measured).
 *    The CPU soft limit sends SIGXCPU (reported as cpu_limit); the hard limit one second later is SIGKILL.
 * 3. Write its own pid into every cgroup.procs file, so the jail is inside its limits before any process
 *    exists that could fork out of them.
 * Arguments arrive positionally; nothing is interpolated into the script.
 */
const ENTER_JAIL =
  'keep=$1; cpu=$2; fsize=$3; nofile=$4; nproc=$5; n=$6; shift 6; ' +
  'for fd in /proc/self/fd/*; do fd=${fd##*/}; ' +
  'if [ "$fd" -gt "$keep" ] && [ -e "/proc/self/fd/$fd" ]; then exec {fd}>&-; fi; done; ' +
  'ulimit -S -t "$cpu" && ulimit -H -t $((cpu+1)) && ulimit -f "$fsize" -n "$nofile" -c 0 -u "$nproc" || exit 125; ' +
  'while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"';

/** Processes bubblewrap itself needs (monitor + pid-1 init) on top of the jail's own. */
export const BWRAP_PROCESSES = 2;
/** RLIMIT_NPROC sits above pids.max so the cgroup (which reports the event) is what stops a fork bomb. */
const NPROC_MARGIN = 8;

/** The rlimit numbers the launch shell applies (shared by the cold and the warm launcher). */
export function rlimitNumbers(limits: JailLimits): { cpu: number; fsize: number; nofile: number; nproc: number } {
  return {
    cpu: Math.max(1, Math.ceil(limits.cpuTimeMs / 1000)),
    // bash counts RLIMIT_FSIZE in 1024-byte blocks: round down, a request may lower a limit, never raise it.
    fsize: Math.floor(limits.fileSizeBytes / 1024),
    nofile: limits.openFiles,
    // Backup for the pids cgroup; counted per host uid, which is why every workspace has its own.
    nproc: limits.maxPids + BWRAP_PROCESSES + NPROC_MARGIN,
  };
}

export function launchArgv(
  tools: HostTools,
  procsFiles: readonly string[],
  limits: JailLimits,
  identity: Identity,
  bwrapArgs: readonly string[],
  /** Highest descriptor the jail's launch needs (seccomp and data pipes); every higher one is closed. */
  lastKeptFd = 2,
): string[] {
  const n = rlimitNumbers(limits);
  return [
    tools.sh, '--noprofile', '--norc', '-c', ENTER_JAIL, 'confine-enter',
    String(lastKeptFd), String(n.cpu), String(n.fsize), String(n.nofile), String(n.nproc),
    String(procsFiles.length), ...procsFiles,
    tools.setpriv,
    `--reuid=${identity.uid}`, `--regid=${identity.gid}`, '--clear-groups',
    '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs',
    '--',
    tools.bwrap, ...bwrapArgs,
  ];
}
