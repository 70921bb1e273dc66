// The jail's whole contract: a plain, serializable JailSpec in, a RunResult out.
// Nothing here knows about Terraform or commands; domains build specs from requests.

/** What is visible inside the jail besides the workspace and /tmp. Everything is read-only. */
export type Mount =
  | { kind: 'ro-bind'; source: string; target: string }
  /** A file whose content the host supplies (passed to bubblewrap through a pipe, never via disk). */
  | { kind: 'file'; target: string; content: string; mode?: number }
  | { kind: 'symlink'; target: string; linkTo: string }
  | { kind: 'dir'; target: string };

export interface JailLimits {
  wallTimeMs: number;
  /** Per-process CPU seconds (RLIMIT_CPU); the cgroup quota bounds the rate across the tree. */
  cpuTimeMs: number;
  /** Fraction of one core the whole tree may use (cgroup CPU quota), e.g. 1 = one core. */
  cpuCores: number;
  memoryBytes: number;
  maxPids: number;
  fileSizeBytes: number;
  openFiles: number;
  /** Size of the tmpfs holding the workspace and /tmp, when the runner creates it for this jail. */
  tmpfsBytes: number;
  stdoutBytes: number;
  stderrBytes: number;
}

export type SeccompProfileName = 'shell' | 'terraform' | 'terraform-egress' | 'node';

export interface JailSpec {
  /** argv[0] is an absolute path inside the jail. */
  argv: string[];
  /** The complete environment; nothing is inherited from the host. */
  env: Record<string, string>;
  /** Working directory inside the jail. */
  cwd: string;
  mounts: Mount[];
  /** Where the workspace appears inside the jail (writable). */
  workspacePath: string;
  seccompProfile: SeccompProfileName;
  limits: JailLimits;
  /** Bytes written to the jailed program's stdin, then closed. */
  stdin?: string | Buffer;
  hostname?: string;
  /**
   * The network namespace the jail joins instead of a fresh empty one: a door's (JailHost.openDoor), which
   * holds only `lo` and the door's listener. Absent: an empty namespace, no network at all. The jail agent
   * refuses any path that is not the namespace of a live door it started.
   */
  network?: { netnsPath: string };
}

export const EXIT_REASONS = [
  'exited',
  'signaled',
  'timeout',
  'memory_limit',
  'pids_limit',
  'cpu_limit',
  'file_size_limit',
  'output_limit',
  'seccomp',
  'cancelled',
] as const;
export type ExitReason = (typeof EXIT_REASONS)[number];

export interface RunResult {
  exit_code: number | null;
  signal: string | null;
  exit_reason: ExitReason;
  stdout: string;
  stderr: string;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
  wall_ms: number;
  cpu_ms: number;
  peak_memory_bytes: number;
}
