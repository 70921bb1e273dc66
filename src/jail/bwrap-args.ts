// JailSpec -> bubblewrap argv. Pure (golden-tested): the plan is data; run.ts is the only place that acts.
import type { JailSpec } from './spec.js';

/** The identity inside the jail. On the host the jail runs as an unprivileged per-workspace uid. */
export const SANDBOX_UID = 1000;
export const SANDBOX_GID = 1000;
export const SANDBOX_USER = 'sandbox';

export interface BwrapPlan {
  args: string[];
  /**
   * Data to write, in order, to the pipes at fds firstDataFd, firstDataFd+1, ...: first the environment
   * (read by `--args`), then the content of each `file` mount.
   */
  dataFiles: string[];
}

export interface BwrapContext {
  /** Host directories (on the workspace's noexec tmpfs) bound writable at spec.workspacePath and /tmp. */
  workspaceHostPath: string;
  tmpHostPath: string;
  seccompFd: number;
  firstDataFd: number;
}

export function bwrapArgs(spec: JailSpec, context: BwrapContext): BwrapPlan {
  const args: string[] = [
    // Every namespace, explicitly: a "-try" variant would silently run without one. With `network` the
    // launcher has already joined a door's namespace (setns before dropping privileges): bubblewrap keeps it.
    '--unshare-user', '--unshare-pid', ...(spec.network ? [] : ['--unshare-net']), '--unshare-ipc', '--unshare-uts', '--unshare-cgroup',
    // No nested user namespaces, so no way back to capabilities inside the jail.
    '--disable-userns',
    '--die-with-parent',
    // A new session: no TIOCSTI into the caller's terminal (CVE-2017-5226).
    '--new-session',
    '--cap-drop', 'ALL',
    '--uid', String(SANDBOX_UID), '--gid', String(SANDBOX_GID),
    '--hostname', spec.hostname ?? 'sandbox',
    '--clearenv',
  ];
  const dataFiles: string[] = [];
  // The environment (it may hold a request's short-lived credentials) reaches bubblewrap through a pipe
  // (`--args FD`, NUL-separated options), never through argv: any host user can read /proc/<pid>/cmdline.
  const environment = Object.entries(spec.env)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `--setenv\0${name}\0${value}\0`)
    .join('');
  args.push('--args', String(context.firstDataFd + dataFiles.length));
  dataFiles.push(environment);
  for (const mount of spec.mounts) {
    switch (mount.kind) {
      case 'ro-bind':
        args.push('--ro-bind', mount.source, mount.target);
        break;
      case 'file':
        args.push('--perms', (mount.mode ?? 0o444).toString(8).padStart(4, '0'));
        args.push('--ro-bind-data', String(context.firstDataFd + dataFiles.length), mount.target);
        dataFiles.push(mount.content);
        break;
      case 'symlink':
        args.push('--symlink', mount.linkTo, mount.target);
        break;
      case 'dir':
        args.push('--dir', mount.target);
        break;
    }
  }
  args.push('--bind', context.workspaceHostPath, spec.workspacePath);
  args.push('--bind', context.tmpHostPath, '/tmp');
  // The root is bubblewrap's own tmpfs holding only the mounts above; make it read-only.
  args.push('--remount-ro', '/');
  args.push('--seccomp', String(context.seccompFd));
  args.push('--chdir', spec.cwd);
  args.push('--', ...spec.argv);
  return { args, dataFiles };
}
