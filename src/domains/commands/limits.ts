// Per-request limits: a request may lower the operator's limits, never raise them. A value above a
// maximum is a validation_error naming the limit — a silent clamp would hide the policy from the caller.
import { DEFAULT_LIMITS, MiB } from '../../jail/limits.js';
import type { JailLimits } from '../../jail/spec.js';
import type { Config } from '../../config/settings.js';
import { DomainError } from '../errors.js';
import type { CommandInputs } from './types.js';

type LimitConfig = Pick<Config, 'defaultExecTimeoutSeconds' | 'maxExecTimeoutSeconds' | 'execMemoryMiB' | 'execMaxPids' | 'cpuCores' | 'workspaceMiB'>;

function requested(name: string, value: number | undefined, max: number, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new DomainError('validation_error', `${name} must be a positive ${integer ? 'whole ' : ''}number, got ${String(value)}`, name);
  }
  if (value > max) throw new DomainError('validation_error', `${name} ${value} exceeds the operator maximum of ${max}`, name);
  return value;
}

export function requestLimits(inputs: CommandInputs, config: LimitConfig): JailLimits {
  const timeout = requested('timeout_seconds', inputs.timeout_seconds, config.maxExecTimeoutSeconds, false) ?? config.defaultExecTimeoutSeconds;
  const memory = requested('memory_mib', inputs.memory_mib, config.execMemoryMiB, true) ?? config.execMemoryMiB;
  const pids = requested('max_pids', inputs.max_pids, config.execMaxPids, true) ?? config.execMaxPids;
  const wallTimeMs = Math.round(timeout * 1000);
  return {
    ...DEFAULT_LIMITS,
    wallTimeMs,
    // One process may use the whole wall time on CPU; the cgroup quota bounds the tree's rate.
    cpuTimeMs: wallTimeMs,
    cpuCores: config.cpuCores,
    memoryBytes: memory * MiB,
    maxPids: pids,
    tmpfsBytes: config.workspaceMiB * MiB,
  };
}
