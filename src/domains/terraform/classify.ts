// Why a step failed, as one of the closed error classes. Kernel evidence (exit reason) first; for a
// program that exited with an error, terraform's diagnostics decide between provider and validation.
import type { RunResult } from '../../jail/spec.js';
import type { ClassifiedError } from '../errors.js';
import type { Diagnostic, TerraformStepName } from './types.js';

/** Diagnostics about installing, starting or configuring a provider. */
const PROVIDER_PATTERNS = [
  /provider/i, /plugin/i, /dependency lock file/i, /failed to instantiate/i, /configuring terraform aws/i,
];
/** Diagnostics that are really a limit being hit inside the jail. */
const RESOURCE_PATTERNS = [
  /no space left on device/i, /disk quota exceeded/i, /too many open files/i, /cannot allocate memory/i,
  /out of memory/i, /failed to create new os thread/i, /resource temporarily unavailable/i, /file too large/i,
];
/** Configuration errors that mention providers but are the configuration's fault. */
const VALIDATION_OVERRIDES = [/unsupported terraform core version/i, /invalid provider local name/i, /duplicate required providers/i];

export function classifyStep(step: TerraformStepName, result: RunResult, diagnostics: readonly Diagnostic[]): ClassifiedError {
  const detail = `${step} step: exit reason ${result.exit_reason}`;
  switch (result.exit_reason) {
    case 'timeout':
      return { type: 'execution_timeout', message: `terraform ${step} exceeded the time limit`, detail };
    case 'cancelled':
      return { type: 'unknown_error', message: `terraform ${step} was cancelled`, detail };
    case 'memory_limit':
    case 'pids_limit':
    case 'cpu_limit':
    case 'file_size_limit':
    case 'output_limit':
      return { type: 'resource_limit', message: `terraform ${step} hit the ${result.exit_reason.replace('_', ' ')}`, detail };
    case 'seccomp':
      return { type: 'security_violation', message: `terraform ${step} attempted a forbidden system call`, detail };
    case 'signaled':
      return { type: 'unknown_error', message: `terraform ${step} was killed by ${result.signal ?? 'a signal'}`, detail };
    case 'exited':
      break;
  }
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const texts = [...errors.map((d) => `${d.summary}\n${d.detail ?? ''}`), result.stderr];
  const first = errors[0]?.summary ?? `terraform ${step} failed (exit code ${String(result.exit_code)})`;
  if (texts.some((text) => RESOURCE_PATTERNS.some((p) => p.test(text)))) {
    return { type: 'resource_limit', message: first, detail };
  }
  const providerRelated = errors.some((d) => {
    // Terraform names the provider when configuring it failed (credentials, endpoints, region...).
    if (d.address?.startsWith('provider[') === true) return true;
    const text = `${d.summary}\n${d.detail ?? ''}`;
    return PROVIDER_PATTERNS.some((p) => p.test(d.summary)) && !VALIDATION_OVERRIDES.some((p) => p.test(text));
  });
  return { type: providerRelated ? 'provider_error' : 'validation_error', message: first, detail };
}
