// Bounds on a request's inline files, checked in the handler before anything is queued: the configured
// counts and bytes (the same settings the domains apply again in the worker), so an oversized map is
// refused at once with a 400 and never occupies the queue or a worker. One function per rule; each is a
// single pass over data the schema already bounded (maxProperties, body limit).
import type { Config } from '../../config/settings.js';
import { MiB } from '../../jail/limits.js';
import { ApiError } from '../errors.js';

type Files = Readonly<Record<string, string>>;

/** At most `max` entries; counted without building the key list when possible. */
export function checkFileCount(files: Files | undefined, max: number, setting: string): void {
  if (files === undefined) return;
  let count = 0;
  for (const key in files) {
    if (!Object.hasOwn(files, key)) continue;
    if (++count > max) throw new ApiError('validation_failed', `more than ${max} files (${setting})`);
  }
}

/** At most `max` bytes of file contents plus the extra texts (stdin), counted in UTF-8. */
export function checkInputBytes(files: Files | undefined, extra: readonly (string | undefined)[], max: number, setting: string): void {
  let bytes = 0;
  const add = (text: string | undefined): void => {
    if (text === undefined) return;
    bytes += Buffer.byteLength(text, 'utf8');
    if (bytes > max) throw new ApiError('validation_failed', `the input is more than ${max} bytes (${setting})`);
  };
  extra.forEach(add);
  const map = files ?? {};
  for (const key in map) add(map[key]);
}

/** No single file above `max` bytes. */
export function checkFileSize(files: Files | undefined, max: number, setting: string): void {
  const map = files ?? {};
  for (const key in map) {
    if (Buffer.byteLength(map[key] ?? '', 'utf8') > max) throw new ApiError('validation_failed', `a file is larger than ${max} bytes (${setting})`);
  }
}

/** A command's or script's files and stdin: EXEC_MAX_INPUT_FILES, EXEC_MAX_INPUT_BYTES. */
export function checkCommandInputs(config: Readonly<Pick<Config, 'execMaxInputFiles' | 'execMaxInputBytes'>>, files: Files | undefined, stdin: string | undefined): void {
  checkFileCount(files, config.execMaxInputFiles, 'EXEC_MAX_INPUT_FILES');
  checkInputBytes(files, [stdin], config.execMaxInputBytes, 'EXEC_MAX_INPUT_BYTES');
}

/** A Terraform files map: TF_MAX_FILES, TF_MAX_UPLOAD_SIZE, TF_MAX_FILE_SIZE. */
export function checkTerraformFiles(config: Readonly<Pick<Config, 'tfMaxFiles' | 'tfMaxUploadMiB' | 'tfMaxFileMiB'>>, files: Files): void {
  checkFileCount(files, config.tfMaxFiles, 'TF_MAX_FILES');
  checkInputBytes(files, [], config.tfMaxUploadMiB * MiB, 'TF_MAX_UPLOAD_SIZE');
  checkFileSize(files, config.tfMaxFileMiB * MiB, 'TF_MAX_FILE_SIZE');
}
