// Accumulates the files of one upload while enforcing its limits, whatever format they came in.
// Sizes are counted from the bytes actually produced, never from archive headers (zip bombs lie).
import type { SeedFile } from '../../../jail/workspace.js';
import { DomainError } from '../../errors.js';
import { admit, normalizeUploadPath, pathDepth, type ForbiddenAction, type LockFileAction } from './paths.js';

export interface IntakeLimits {
  maxTotalBytes: number;
  maxFileBytes: number;
  maxFiles: number;
  maxDepth: number;
  /** Uncompressed bytes per compressed byte of an archive. */
  maxCompressionRatio: number;
  forbidden: ForbiddenAction;
  lockFile: LockFileAction;
}

export interface IntakeResult {
  files: SeedFile[];
  /** Paths dropped by policy (reported to the caller as warnings). */
  stripped: string[];
}

export class UploadCollector {
  private readonly files = new Map<string, Buffer>();
  private readonly dirs = new Set<string>();
  private readonly stripped: string[] = [];
  private totalBytes = 0;
  private entries = 0;

  constructor(readonly limits: IntakeLimits) {}

  /** Validates a path and counts an entry; returns the normalized path, or undefined when stripped. */
  admitPath(raw: string, isDirectory: boolean): string | undefined {
    const path = normalizeUploadPath(raw);
    if (pathDepth(path) > this.limits.maxDepth) {
      throw new DomainError('security_violation', `upload path nests deeper than ${this.limits.maxDepth} levels`, path);
    }
    this.entries += 1;
    if (this.entries > this.limits.maxFiles) {
      throw new DomainError('security_violation', `upload holds more than ${this.limits.maxFiles} entries`, path);
    }
    if (admit(isDirectory ? `${path}/x` : path, this.limits.forbidden, this.limits.lockFile) === 'strip') {
      this.stripped.push(path);
      return undefined;
    }
    if (isDirectory) this.dirs.add(path);
    return path;
  }

  /** Checks a file's size so far; call as bytes arrive so a bomb stops early. */
  checkSize(path: string, fileBytes: number, extraTotal: number): void {
    if (fileBytes > this.limits.maxFileBytes) {
      throw new DomainError('security_violation', `upload file larger than ${this.limits.maxFileBytes} bytes`, path);
    }
    if (this.totalBytes + extraTotal > this.limits.maxTotalBytes) {
      throw new DomainError('security_violation', `upload larger than ${this.limits.maxTotalBytes} bytes uncompressed`, path);
    }
  }

  addFile(path: string, content: Buffer): void {
    this.checkSize(path, content.length, content.length);
    if (this.files.has(path) || this.dirs.has(path)) {
      throw new DomainError('security_violation', 'upload names the same path twice', path);
    }
    this.totalBytes += content.length;
    this.files.set(path, content);
  }

  /** For archives: uncompressed output must stay within the configured ratio of the input. */
  checkRatio(compressedBytes: number, uncompressedBytes: number, path: string): void {
    if (uncompressedBytes > Math.max(compressedBytes, 1024) * this.limits.maxCompressionRatio) {
      throw new DomainError('security_violation', `archive expands more than ${this.limits.maxCompressionRatio}x (compression bomb)`, path);
    }
  }

  result(): IntakeResult {
    for (const path of this.files.keys()) {
      const parts = path.split('/');
      for (let i = 1; i < parts.length; i += 1) {
        if (this.files.has(parts.slice(0, i).join('/'))) {
          throw new DomainError('security_violation', 'upload uses a file as a directory', path);
        }
      }
    }
    const files = [...this.files].sort(([a], [b]) => a.localeCompare(b)).map(([path, content]) => ({ path, content }));
    return { files, stripped: this.stripped };
  }
}
