// Edge checks of a request's inputs: input file paths and sizes, stdin size, working directory. Nothing
// here touches the workspace except `resolveCwd`, which only lstat()s and refuses links.
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { SHELL_WORKSPACE } from '../../jail/profiles/shell.js';
import { DomainError } from '../errors.js';
import { workspacePathSegments } from './paths.js';

export interface InputFile {
  path: string;
  content: string;
}

export interface InputLimits {
  maxFiles: number;
  maxBytes: number;
}

function invalid(message: string, detail?: string): never {
  throw new DomainError('validation_error', message, detail);
}

/** Validates the files map: types, paths, count, total size, and no file that is also another's directory. */
export function checkFiles(files: unknown, limits: InputLimits, stdin?: unknown): InputFile[] {
  if (stdin !== undefined && typeof stdin !== 'string') invalid('stdin must be a string');
  let bytes = stdin === undefined ? 0 : Buffer.byteLength(stdin as string, 'utf8');
  if (files === undefined) {
    if (bytes > limits.maxBytes) invalid(`stdin is ${bytes} bytes; the limit is ${limits.maxBytes}`, 'stdin');
    return [];
  }
  if (typeof files !== 'object' || files === null || Array.isArray(files)) invalid('files must be an object mapping paths to contents');
  const entries = Object.entries(files as Record<string, unknown>);
  if (entries.length > limits.maxFiles) invalid(`${entries.length} input files; the limit is ${limits.maxFiles}`, 'files');
  const result: InputFile[] = [];
  const directories = new Set<string>();
  for (const [path, content] of entries) {
    if (typeof content !== 'string') invalid(`input file ${JSON.stringify(path)}: content must be a string`, path);
    const segments = workspacePathSegments(path, 'input file');
    for (let i = 1; i < segments.length; i++) directories.add(segments.slice(0, i).join('/'));
    bytes += Buffer.byteLength(content, 'utf8');
    result.push({ path, content });
  }
  if (bytes > limits.maxBytes) invalid(`input files and stdin are ${bytes} bytes; the limit is ${limits.maxBytes}`, 'files');
  const clash = result.find((file) => directories.has(file.path));
  if (clash) invalid(`input file ${JSON.stringify(clash.path)} is also used as a directory`, clash.path);
  return result;
}

/**
 * The jail path of the requested working directory. Each component must exist in the workspace as a
 * real directory: lstat() never follows a link, so a link the tenant planted is refused, not resolved
 * by host code (and a missing directory is a clear error instead of a jail that cannot start).
 */
export async function resolveCwd(cwd: unknown, workspaceHostPath: string): Promise<string> {
  if (cwd === undefined || cwd === '.' || cwd === '') return SHELL_WORKSPACE;
  if (typeof cwd !== 'string') invalid('cwd must be a string');
  const segments = workspacePathSegments(cwd, 'cwd');
  let current = workspaceHostPath;
  for (const segment of segments) {
    current = join(current, segment);
    const stat = await lstat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
      throw error;
    });
    if (stat === null || !stat.isDirectory()) invalid(`cwd ${JSON.stringify(cwd)} is not a directory in the workspace`, cwd);
  }
  return `${SHELL_WORKSPACE}/${segments.join('/')}`;
}
