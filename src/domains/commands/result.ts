// RunResult -> CommandResult. A failing program is still a completed run (error null); limits, timeouts
// and seccomp kills are classified with the closed error set.
import type { ExitReason, RunResult } from '../../jail/spec.js';
import { DomainError, type ClassifiedError } from '../errors.js';
import type { CommandResult } from './types.js';

function errorOf(reason: ExitReason, run: RunResult): ClassifiedError | null {
  switch (reason) {
    case 'exited':
    case 'signaled':
      return null;
    case 'timeout':
      return { type: 'execution_timeout', message: `the run exceeded its wall-clock limit after ${run.wall_ms} ms`, detail: reason };
    case 'memory_limit':
    case 'pids_limit':
    case 'cpu_limit':
    case 'file_size_limit':
    case 'output_limit':
      return { type: 'resource_limit', message: `the run hit its ${reason.replace('_', ' ')}`, detail: reason };
    case 'seccomp':
      return { type: 'security_violation', message: 'the run made a system call its profile forbids and was killed', detail: reason };
    case 'cancelled':
      return { type: 'unknown_error', message: 'the run was cancelled', detail: reason };
  }
}

export function completed(run: RunResult, argv?: string[]): CommandResult {
  const error = errorOf(run.exit_reason, run);
  const ok = run.exit_reason === 'exited' && run.exit_code === 0;
  return { status: ok ? 'succeeded' : 'failed', error, run, ...(argv ? { argv } : {}) };
}

export function rejected(error: DomainError, argv?: string[]): CommandResult {
  return { status: 'failed', error: error.toJSON(), run: null, ...(argv ? { argv } : {}) };
}
