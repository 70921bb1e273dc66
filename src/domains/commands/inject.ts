// Writes input files into a workspace a jail may already have used (a session's). Host root never opens
// a path there: a tenant may have planted `out.txt -> /etc/passwd` and root would follow it (Judge0
// CVE-2024-28185/28189). Instead a jailed `sh` running as the workspace's own uid does the writing; the
// contents arrive as read-only files bubblewrap creates from pipes, the paths as argv. Even a link that
// slipped past the script's check could only reach what the tenant's own jail can reach.
import type { JailHost } from '../../jail/host.js';
import { DEFAULT_LIMITS, MiB } from '../../jail/limits.js';
import { shellSpec } from '../../jail/profiles/shell.js';
import type { Mount } from '../../jail/spec.js';
import type { Workspace } from '../../jail/workspace.js';
import { DomainError } from '../errors.js';
import type { InputFile } from './inputs.js';
import type { ProfileCache } from './profiles.js';

const INPUT_DIR = '/confine/in';
const INJECT_SCRIPT_PATH = '/confine/inject.sh';
export const INJECT_PROGRAMS = ['sh', 'mkdir', 'cat'] as const;

const EXIT_LINK = 3;
const EXIT_NOT_DIRECTORY = 4;
const EXIT_WRITE_FAILED = 5;
/** The tenant's own earlier request took away write permission (chmod): its mistake, not a full disk. */
const EXIT_NOT_WRITABLE = 6;

// Runs in the jail with cwd = the workspace; "$@" are validated relative paths (no "..", no "." or empty
// segments), file N's content is at /confine/in/N. Every existing component is checked with -L first, and
// permissions before writing, so a write that still fails is a full workspace (ENOSPC, inodes, RLIMIT_FSIZE).
const INJECT_SCRIPT = `set -euf
n=0
writable() {
  if [ ! -w "$1" ] || { [ -d "$1" ] && [ ! -x "$1" ]; }; then
    echo "$2: \${1#./} is not writable (a request in this session changed its permissions)" >&2; exit ${EXIT_NOT_WRITABLE}
  fi
}
for target in "$@"; do
  prefix=.
  rest=$target
  while :; do
    seg=\${rest%%/*}
    parent=$prefix
    prefix=$prefix/$seg
    if [ -L "$prefix" ]; then echo "$target: \${prefix#./} is a link" >&2; exit ${EXIT_LINK}; fi
    [ "$rest" = "$seg" ] && break
    rest=\${rest#*/}
    if [ -e "$prefix" ] && [ ! -d "$prefix" ]; then echo "$target: \${prefix#./} is not a directory" >&2; exit ${EXIT_NOT_DIRECTORY}; fi
    [ -d "$prefix" ] || { writable "$parent" "$target"; mkdir -- "$prefix"; } || exit ${EXIT_WRITE_FAILED}
  done
  if [ -e "$prefix" ] && [ ! -f "$prefix" ]; then echo "$target: exists and is not a regular file" >&2; exit ${EXIT_NOT_DIRECTORY}; fi
  if [ -e "$prefix" ]; then writable "$prefix" "$target"; else writable "$parent" "$target"; fi
  cat -- "${INPUT_DIR}/$n" > "$prefix" || exit ${EXIT_WRITE_FAILED}
  n=$((n + 1))
done
`;

export async function injectIntoUsedWorkspace(
  host: JailHost,
  profiles: ProfileCache,
  workspace: Workspace,
  files: readonly InputFile[],
  maxInputBytes: number,
  signal?: AbortSignal,
): Promise<void> {
  if (files.length === 0) return;
  const profile = await profiles.get(INJECT_PROGRAMS);
  const mounts: Mount[] = [
    { kind: 'file', target: INJECT_SCRIPT_PATH, content: INJECT_SCRIPT },
    ...files.map((file, i): Mount => ({ kind: 'file', target: `${INPUT_DIR}/${i}`, content: file.content })),
  ];
  const spec = shellSpec(profile, {
    command: { argv: ['sh', INJECT_SCRIPT_PATH, ...files.map((f) => f.path)] },
    limits: {
      ...DEFAULT_LIMITS,
      wallTimeMs: 30_000,
      cpuTimeMs: 30_000,
      maxPids: 8,
      memoryBytes: 64 * MiB,
      fileSizeBytes: Math.max(DEFAULT_LIMITS.fileSizeBytes, maxInputBytes),
      // Each content arrives on its own descriptor, all open when the launcher starts.
      openFiles: DEFAULT_LIMITS.openFiles + files.length,
    },
    extraMounts: mounts,
  });
  const result = await host.run(spec, workspace, signal ? { signal } : {});
  if (result.exit_reason === 'cancelled') throw new DomainError('unknown_error', 'the run was cancelled while its input files were written', 'cancelled');
  if (result.exit_reason === 'exited' && result.exit_code === 0) return;
  const why = result.stderr.trim().split('\n').slice(-1)[0] ?? '';
  if (result.exit_reason === 'exited' && result.exit_code === EXIT_LINK) {
    throw new DomainError('security_violation', `input file rejected: ${why}; links in the workspace are never written through`, why);
  }
  if (result.exit_reason === 'exited' && (result.exit_code === EXIT_NOT_DIRECTORY || result.exit_code === EXIT_NOT_WRITABLE)) {
    throw new DomainError('validation_error', `input file rejected: ${why}`, why);
  }
  if (result.exit_reason === 'file_size_limit' || (result.exit_reason === 'exited' && result.exit_code === EXIT_WRITE_FAILED)) {
    throw new DomainError('resource_limit', `input files could not be written (workspace full?): ${why}`, why);
  }
  throw new Error(`injecting input files failed: ${result.exit_reason} ${result.exit_code ?? result.signal ?? ''}: ${result.stderr.trim()}`);
}
