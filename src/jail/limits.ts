import type { JailLimits } from './spec.js';

const MiB = 1024 * 1024;

/** Defaults for one jail; operators lower or raise them in configuration, requests may only lower them. */
export const DEFAULT_LIMITS: Readonly<JailLimits> = Object.freeze({
  wallTimeMs: 10_000,
  cpuTimeMs: 10_000,
  cpuCores: 1,
  memoryBytes: 256 * MiB,
  maxPids: 64,
  fileSizeBytes: 16 * MiB,
  openFiles: 256,
  tmpfsBytes: 64 * MiB,
  stdoutBytes: 1 * MiB,
  stderrBytes: 1 * MiB,
});

export { MiB };
