// Intake: any accepted upload format -> the validated file list a fresh workspace is seeded with.
import type { Config } from '../../../config/settings.js';
import { MiB } from '../../../jail/limits.js';
import { DomainError } from '../../errors.js';
import type { TerraformInput } from '../types.js';
import { UploadCollector, type IntakeLimits, type IntakeResult } from './collector.js';
import { readDirectory } from './directory.js';
import { normalizeUploadPath, type ForbiddenAction, type LockFileAction } from './paths.js';
import { readTarGz } from './tar.js';
import { readZip } from './zip.js';

export type { IntakeLimits, IntakeResult } from './collector.js';

export function intakeLimits(config: Readonly<Config>): IntakeLimits {
  return {
    maxTotalBytes: Math.min(config.tfMaxUploadMiB, config.workspaceMiB) * MiB,
    maxFileBytes: config.tfMaxFileMiB * MiB,
    maxFiles: config.tfMaxFiles,
    maxDepth: config.tfMaxPathDepth,
    maxCompressionRatio: config.tfMaxCompressionRatio,
    forbidden: config.tfForbiddenFiles as ForbiddenAction,
    lockFile: config.tfLockFile as LockFileAction,
  };
}

export async function intake(input: TerraformInput, limits: IntakeLimits): Promise<IntakeResult> {
  const collector = new UploadCollector(limits);
  switch (input.kind) {
    case 'directory':
      await readDirectory(input.path, collector);
      break;
    case 'zip':
      await readZip(input.data, collector);
      break;
    case 'tar.gz':
      await readTarGz(input.data, collector);
      break;
    case 'files':
      for (const [name, content] of Object.entries(input.files)) {
        if (typeof content !== 'string') throw new DomainError('validation_error', 'file content must be a string', name);
        const path = collector.admitPath(name, false);
        if (path !== undefined) collector.addFile(path, Buffer.from(content, 'utf8'));
      }
      break;
  }
  const result = collector.result();
  if (result.files.length === 0) throw new DomainError('validation_error', 'upload contains no files');
  return result;
}

/** `working_dir` must name a directory inside the upload that holds at least one file. */
export function resolveWorkingDir(raw: string | undefined, result: IntakeResult): string {
  if (raw === undefined || raw === '' || raw === '.' || raw === './') return '';
  const dir = normalizeUploadPath(raw);
  if (!result.files.some((file) => file.path.startsWith(`${dir}/`))) {
    throw new DomainError('validation_error', 'working_dir does not name a directory in the upload', dir);
  }
  return dir;
}
