// Contract of the commands domain: a command line or a script, with input files, run in a shell jail.
import type { RunResult } from '../../jail/spec.js';
import type { ClassifiedError } from '../errors.js';

export interface CommandInputs {
  /** Files written into the workspace before the run (same path rules as Terraform intake). */
  files?: Record<string, string>;
  stdin?: string;
  /** Working directory relative to the workspace. */
  cwd?: string;
  /** Requests may lower the operator's limits, never raise them (a higher value is an error). */
  timeout_seconds?: number;
  memory_mib?: number;
  max_pids?: number;
}

export interface CommandRequest extends CommandInputs {
  kind: 'command';
  /** One command line, tokenized (never given to a shell) and checked against the allowlist. */
  command: string;
}

export interface ScriptRequest extends CommandInputs {
  kind: 'script';
  script: string;
}

export interface CommandResult {
  status: 'succeeded' | 'failed';
  /** Set when the request was rejected or the run hit a limit; a non-zero exit alone is not an error. */
  error: ClassifiedError | null;
  /** null when nothing ran (rejected before a jail was started). */
  run: RunResult | null;
  /** The argv that ran (commands only). */
  argv?: string[];
}
