// Resolves host programs and the shared libraries each one loads (as `ldd` reports them); program-tree.ts
// turns them into the jail's filesystem. A program that is not in the set does not exist inside the jail.
import { realpathSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { findExecutable } from '../host-tools.js';
import { runHostTool } from '../host-exec.js';

export interface ResolvedProgram {
  name: string;
  hostPath: string;
  libraries: { jailPath: string; hostPath: string }[];
}

export class UnknownProgramError extends Error {
  constructor(readonly program: string) {
    super(`program not found on this host: ${program}`);
  }
}

export async function resolveProgram(name: string, lddPath: string): Promise<ResolvedProgram> {
  if (!/^[A-Za-z0-9._+-]+$/.test(name)) throw new UnknownProgramError(name);
  const found = findExecutable(name);
  if (!found) throw new UnknownProgramError(name);
  const hostPath = realpathSync(found);
  return { name, hostPath, libraries: await sharedLibraries(hostPath, lddPath) };
}

/** Parses ldd: `libc.so.6 => /lib/.../libc.so.6 (0x..)` and `/lib64/ld-linux-x86-64.so.2 (0x..)`. */
export function parseLdd(output: string): string[] {
  const paths: string[] = [];
  for (const line of output.split('\n')) {
    const arrow = /=>\s+(\/\S+)/.exec(line);
    const direct = /^\s*(\/\S+)\s+\(0x/.exec(line);
    const path = arrow?.[1] ?? direct?.[1];
    if (path) paths.push(path);
  }
  return paths;
}

async function sharedLibraries(programPath: string, lddPath: string): Promise<ResolvedProgram['libraries']> {
  if (!(await isElf(programPath))) return []; // a script: its interpreter must be allowlisted itself
  const result = await runHostTool(lddPath, [programPath]);
  // ldd exits non-zero for static executables such as terraform.
  if (result.code !== 0 && /not a dynamic executable|statically linked/.test(result.stdout + result.stderr)) return [];
  if (result.code !== 0) throw new Error(`ldd ${programPath} failed: ${result.stderr.trim()}`);
  return parseLdd(result.stdout).map((jailPath) => ({ jailPath, hostPath: realpathSync(jailPath) }));
}

async function isElf(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4), 0, 4, 0);
    return bytesRead === 4 && buffer.toString('latin1') === '\u007fELF';
  } finally {
    await handle.close();
  }
}

/** Where a profile's programs come from: the host's ldd, and the directory holding built program trees. */
export interface ProgramSource {
  lddPath: string;
  treesDir: string;
}
