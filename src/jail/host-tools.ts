import { accessSync, constants, realpathSync } from 'node:fs';
import { join } from 'node:path';
/** The host programs confine runs itself; everything else in a jail comes from its profile. */
export interface AllHostTools {
  bwrap: string;
  ldd: string;
}

/** A fixed search path: the host's PATH may be the caller's and must not choose the jail's tools. */
export const HOST_SEARCH_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function findExecutable(name: string, searchPath: readonly string[] = HOST_SEARCH_PATH): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of searchPath) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function resolveRealExecutable(name: string): string | undefined {
  const found = findExecutable(name);
  return found && realpathSync(found);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export class MissingToolError extends Error {
  constructor(readonly tool: string, readonly hint: string) {
    super(`required host tool not found: ${tool} (${hint})`);
  }
}

const TOOL_PACKAGES: Record<keyof AllHostTools, string> = {
  bwrap: 'apt-get install bubblewrap',
  ldd: 'libc-bin',
};

export function resolveHostTools(): AllHostTools {
  const resolved = {} as AllHostTools;
  for (const [tool, hint] of Object.entries(TOOL_PACKAGES) as [keyof AllHostTools, string][]) {
    const path = findExecutable(tool);
    if (!path) throw new MissingToolError(tool, hint);
    resolved[tool] = path;
  }
  return resolved;
}
