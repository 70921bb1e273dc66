// Path rules for uploaded files, applied before any byte reaches a workspace. Threat rows 5-8 and 23:
// zip-slip (`..`, absolute paths), and files that change what terraform trusts (plugins, state, CLI config).
import { DomainError } from '../../errors.js';

export type ForbiddenAction = 'strip' | 'reject';
export type LockFileAction = 'keep' | 'strip' | 'reject';

/** Longest whole path, in UTF-8 bytes (well inside PATH_MAX once below the workspace's own path). */
export const MAX_UPLOAD_PATH_BYTES = 1024;
/** Longest name of one file or directory, in UTF-8 bytes: NAME_MAX of Linux filesystems (tmpfs too). */
export const MAX_NAME_BYTES = 255;

/** Validates an archive or map path and returns it normalized (forward slashes, no `.` segments). */
export function normalizeUploadPath(raw: string): string {
  // Escapes (traversal, absolute paths, NUL) are attacks; names the filesystem cannot hold are mistakes.
  const reject = (why: string): never => {
    throw new DomainError('security_violation', `upload path rejected: ${why}`, raw);
  };
  const invalid = (why: string): never => {
    throw new DomainError('validation_error', `upload path rejected: ${why}`, raw.slice(0, 300));
  };
  if (raw.length === 0) reject('empty path');
  if (raw.includes('\0')) reject('NUL byte in path');
  if (Buffer.byteLength(raw, 'utf8') > MAX_UPLOAD_PATH_BYTES) invalid(`longer than ${MAX_UPLOAD_PATH_BYTES} bytes`);
  const slashed = raw.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed)) reject('absolute path');
  const segments = slashed.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) reject('".." segment');
  if (segments.length === 0) reject('empty path');
  // Written as is, a longer name fails with ENAMETOOLONG inside the service (it was unknown_error).
  const long = segments.find((s) => Buffer.byteLength(s, 'utf8') > MAX_NAME_BYTES);
  if (long !== undefined) invalid(`the name ${JSON.stringify(long.slice(0, 40) + '...')} is longer than ${MAX_NAME_BYTES} bytes`);
  return segments.join('/');
}

export function pathDepth(path: string): number {
  return path.split('/').length;
}

/**
 * Files that would make terraform trust something other than the service: shipped provider binaries and
 * saved backends in `.terraform/` (rows 5, 8), implied local mirrors in `terraform.d/` (row 6), state
 * naming other providers or backends (row 8), CLI configuration and credentials (rows 7, 9).
 */
export function forbiddenReason(path: string): string | undefined {
  const segments = path.split('/');
  const base = segments[segments.length - 1]!;
  for (const segment of segments.slice(0, -1)) {
    if (segment === '.terraform') return '.terraform/ directory';
    if (segment === 'terraform.d') return 'terraform.d/ directory';
    if (segment === 'terraform.tfstate.d') return 'terraform.tfstate.d/ directory';
    if (segment.startsWith('.git')) return '.git* path';
  }
  if (base === '.terraform' || base === 'terraform.d' || base === 'terraform.tfstate.d') return `${base} entry`;
  if (base.includes('.tfstate')) return 'Terraform state file';
  if (base === '.terraformrc' || base.endsWith('.tfrc')) return 'Terraform CLI configuration';
  if (base === '.netrc' || base === '_netrc') return '.netrc credentials';
  if (base.startsWith('.git')) return '.git* path';
  return undefined;
}

export function isLockFile(path: string): boolean {
  return path === '.terraform.lock.hcl' || path.endsWith('/.terraform.lock.hcl');
}

/** Decides what happens to a path: keep it, drop it (reported), or reject the whole upload. */
export function admit(path: string, forbidden: ForbiddenAction, lockFile: LockFileAction): 'keep' | 'strip' {
  const reason = forbiddenReason(path);
  if (reason !== undefined) {
    if (forbidden === 'reject') throw new DomainError('security_violation', `upload contains a forbidden file (${reason})`, path);
    return 'strip';
  }
  if (isLockFile(path)) {
    if (lockFile === 'reject') throw new DomainError('security_violation', 'upload contains a dependency lock file', path);
    return lockFile;
  }
  return 'keep';
}
