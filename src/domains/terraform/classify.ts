// Why a step failed, as one of the closed error classes. Kernel evidence (exit reason) first; for a
// program that exited with an error, the structure of terraform's JSON diagnostics decides, never words
// in a summary (a summary matching /provider/i used to make `foo {}` a provider_error, issue 9 item 10):
//   1. a diagnostic about a provider (`address` = provider["..."]): configuring the provider failed
//      (credentials, region, endpoints)                                                  -> provider_error
//   2. a diagnostic with a source range: terraform points into the tenant's files, so the configuration
//      is at fault (syntax, encoding, unknown types, missing arguments, constraint syntax) -> validation_error
//   3. init failed without a source range once it had started installing providers (its JSON
//      `init_output` message codes say so): the mirror lacks what was asked, a checksum failed
//                                                                                          -> provider_error
//   4. anything else: terraform could not accept the configuration                       -> validation_error
// Errno texts of a limit inside the jail (ENOSPC, EMFILE...) come first: the kernel said so, not a summary.
import type { RunResult } from '../../jail/spec.js';
import type { ClassifiedError } from '../errors.js';
import { initMessageCodes, INIT_PROVIDERS_STARTED } from './diagnostics.js';
import type { Diagnostic, TerraformStepName } from './types.js';

/** Errno messages (strerror) of a limit being hit inside the jail. */
const RESOURCE_ERRNO_TEXTS = [
  /no space left on device/i, /disk quota exceeded/i, /too many open files/i, /cannot allocate memory/i,
  /out of memory/i, /failed to create new os thread/i, /resource temporarily unavailable/i, /file too large/i,
];

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
  const message = (errors.find(inTenantFile) ?? errors[0])?.summary ?? `terraform ${step} failed (exit code ${String(result.exit_code)})`;
  const classified = (type: ClassifiedError['type']): ClassifiedError => ({ type, message, detail });

  if (hitALimit(errors, result.stderr)) return classified('resource_limit');
  if (errors.some(aboutAProvider)) return classified('provider_error');
  if (errors.some(inTenantFile)) return classified('validation_error');
  if (step === 'init' && initMessageCodes(result.stdout).has(INIT_PROVIDERS_STARTED)) return classified('provider_error');
  return classified('validation_error');
}

function hitALimit(errors: readonly Diagnostic[], stderr: string): boolean {
  const texts = [...errors.map((d) => d.detail ?? ''), ...errors.map((d) => d.summary), stderr];
  return texts.some((text) => RESOURCE_ERRNO_TEXTS.some((p) => p.test(text)));
}

/** Terraform names the provider when configuring it failed. */
function aboutAProvider(d: Diagnostic): boolean {
  return d.address?.startsWith('provider[') === true;
}

/** Terraform points at a place in the tenant's configuration. */
function inTenantFile(d: Diagnostic): boolean {
  return d.file !== undefined;
}
