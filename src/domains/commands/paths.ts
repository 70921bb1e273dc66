// Path rules for everything a request names inside the workspace (input files, cwd, sh's script). They
// match the Terraform intake's: relative, no `..`, no empty or `.` segments, no control or look-alike
// characters, bounded length and depth. Host code then never resolves a tenant path outside the
// workspace (zip-slip style traversal; Judge0 CVE-2024-28185 is handled by not writing as root at all).
import { DomainError } from '../errors.js';
import { characterProblem } from './characters.js';

export const MAX_PATH_BYTES = 1024;
export const MAX_SEGMENT_BYTES = 255;
export const MAX_PATH_DEPTH = 16;

/** Returns the path's segments, or throws validation_error naming the path and the rule it breaks. */
export function workspacePathSegments(path: string, what: string): string[] {
  const bad = (why: string): never => {
    throw new DomainError('validation_error', `${what} ${JSON.stringify(path)} rejected: ${why}`, path);
  };
  if (path.length === 0) bad('empty path');
  if (Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES) bad(`longer than ${MAX_PATH_BYTES} bytes`);
  for (const char of path) {
    const problem = characterProblem(char);
    if (problem) bad(problem.reason);
  }
  if (path.startsWith('/')) bad('absolute paths are not allowed; name a path inside the workspace');
  if (path.includes('\\')) bad('backslashes are not allowed');
  const segments = path.split('/');
  if (segments.length > MAX_PATH_DEPTH) bad(`deeper than ${MAX_PATH_DEPTH} levels`);
  for (const segment of segments) {
    if (segment === '..') bad('".." leaves the workspace');
    if (segment === '' || segment === '.') bad('empty or "." segment');
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) bad(`a segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
    if (segment.startsWith('-')) bad('a segment starting with "-" would read as an option');
  }
  return segments;
}
