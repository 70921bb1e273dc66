// Why did the jail end? One exhaustive decision from kernel evidence (cgroup counters, the signal that
// ended the program) and what the supervisor itself did (timeout, cancel, output cap). Pure.
import { constants } from 'node:os';
import type { CgroupUsage } from './cgroup/index.js';
import type { ExitReason } from './spec.js';

export type SupervisorAction = 'timeout' | 'cancelled' | 'output_limit' | undefined;

export interface Termination {
  /** bubblewrap's exit code: the program's, or 128 + signal when the program was killed. */
  exitCode: number | null;
  /** Set when bubblewrap itself was killed (by the supervisor, or by the OOM killer). */
  hostSignal: NodeJS.Signals | null;
  supervisor: SupervisorAction;
  usage: CgroupUsage;
}

export interface Classification {
  exit_reason: ExitReason;
  exit_code: number | null;
  signal: string | null;
}

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(constants.signals).map(([name, nr]) => [nr, name]),
);

export function classify(t: Termination): Classification {
  const programSignal = t.exitCode !== null && t.exitCode > 128 ? SIGNAL_NAMES.get(t.exitCode - 128) : undefined;
  const signal = t.hostSignal ?? programSignal ?? null;
  const exit_code = signal === null ? t.exitCode : null;
  const ended = (exit_reason: ExitReason): Classification => ({ exit_reason, exit_code, signal });

  // Kernel evidence first: a fork bomb that also ran out the clock is a pids_limit story.
  if (t.usage.oomKilled) return ended('memory_limit');
  if (t.usage.pidsLimitHit && (t.supervisor === 'timeout' || signal !== null || (t.exitCode ?? 0) !== 0)) {
    return ended('pids_limit');
  }
  if (t.supervisor) return ended(t.supervisor);
  switch (signal) {
    case 'SIGSYS':
      return ended('seccomp');
    case 'SIGXCPU':
      return ended('cpu_limit');
    case 'SIGXFSZ':
      return ended('file_size_limit');
    case null:
      return ended('exited');
    default:
      return ended('signaled');
  }
}
