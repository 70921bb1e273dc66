// The shell profile: a POSIX sh and exactly the allowlisted programs (with their libraries), a workspace
// and /tmp. No /proc, /sys or /dev, no sockets (seccomp), no other binaries.
import type { JailLimits, JailSpec, Mount } from '../spec.js';
import { identityFiles } from './identity-files.js';
import { resolveProgram, type ProgramSource, type ResolvedProgram } from './host-programs.js';
import { JAIL_BIN_DIR, programMounts } from './program-tree.js';

export const SHELL_WORKSPACE = '/workspace';
export const SCRIPT_PATH = '/confine/script.sh';

export interface ShellProfile {
  readonly programs: readonly ResolvedProgram[];
  readonly mounts: readonly Mount[];
}

/** Resolves programs once (ldd runs here, never per request). `sh` is always included. */
export async function buildShellProfile(programNames: readonly string[], source: ProgramSource): Promise<ShellProfile> {
  return buildExactProfile([...new Set(['sh', ...programNames])], source);
}

/** The profile holding exactly `programNames` (no implicit `sh`). */
export async function buildExactProfile(programNames: readonly string[], source: ProgramSource): Promise<ShellProfile> {
  const names = [...new Set(programNames)].sort();
  const programs = await Promise.all(names.map((name) => resolveProgram(name, source.lddPath)));
  return { programs, mounts: [...(await programMounts(programs, source.treesDir)), ...identityFiles(SHELL_WORKSPACE)] };
}

export function shellEnvironment(): Record<string, string> {
  return {
    PATH: `${JAIL_BIN_DIR}:/bin`,
    HOME: SHELL_WORKSPACE,
    TMPDIR: '/tmp',
    USER: 'sandbox',
    LOGNAME: 'sandbox',
    LC_ALL: 'C',
  };
}

export interface ShellRunRequest {
  /** argv run directly (argv[0] resolved in the jail's PATH), or a script run under sh. */
  command: { argv: string[] } | { script: string };
  limits: JailLimits;
  cwd?: string;
  stdin?: string;
  extraMounts?: readonly Mount[];
}

export function shellSpec(profile: ShellProfile, request: ShellRunRequest): JailSpec {
  const mounts = [...profile.mounts, ...(request.extraMounts ?? [])];
  let argv: string[];
  if ('script' in request.command) {
    mounts.push({ kind: 'file', target: SCRIPT_PATH, content: request.command.script });
    argv = [`${JAIL_BIN_DIR}/sh`, SCRIPT_PATH];
  } else {
    const [program, ...args] = request.command.argv;
    if (!program) throw new Error('empty command');
    argv = [program.startsWith('/') ? program : `${JAIL_BIN_DIR}/${program}`, ...args];
  }
  return {
    argv,
    env: shellEnvironment(),
    cwd: request.cwd ?? SHELL_WORKSPACE,
    mounts,
    workspacePath: SHELL_WORKSPACE,
    seccompProfile: 'shell',
    limits: request.limits,
    ...(request.stdin === undefined ? {} : { stdin: request.stdin }),
  };
}
