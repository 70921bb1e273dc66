// A job executor that runs a REAL jail (the shell profile, argv split on spaces) so the service's
// cancel/timeout/shutdown paths are tested against real processes and cgroups, plus host-side probes.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { shellSpec, type ShellProfile } from '../../src/jail/profiles/shell.js';
import type { JailHost } from '../../src/jail/host.js';
import type { Executor } from '../../src/jobs/executor-types.js';
import type { RunRequest } from '../../src/jobs/types.js';
import { limits } from '../support/jail.js';

export interface StartedJail {
  runId: string;
  cgroupProcsFiles: readonly string[];
  hostUid: number;
}

export interface JailExecutor extends Executor {
  readonly started: StartedJail[];
  readonly calls: number;
  /** Resolves when the given number of jails have started. */
  whenStarted(count: number): Promise<StartedJail[]>;
}

export function jailExecutor(host: JailHost, profile: ShellProfile): JailExecutor {
  const started: StartedJail[] = [];
  const wakers: (() => void)[] = [];
  let calls = 0;
  return {
    started,
    get calls() {
      return calls;
    },
    whenStarted(count) {
      return new Promise((resolve) => {
        const check = (): void => (started.length >= count ? resolve(started) : void wakers.push(check));
        check();
      });
    },
    async execute(request: RunRequest, context) {
      calls++;
      if (request.kind !== 'command') throw new Error('test executor runs commands only');
      const argv = request.request.command.split(' ');
      const run = await host.run(shellSpec(profile, { command: { argv }, limits: limits({ wallTimeMs: 60_000 }) }), undefined, {
        signal: context.signal,
        onStart: (info) => {
          started.push({ runId: context.runId, ...info });
          for (const wake of wakers.splice(0)) wake();
        },
      });
      const ok = run.exit_reason === 'exited' && run.exit_code === 0;
      return { outcome: { kind: 'command', result: { status: ok ? 'succeeded' : 'failed', error: null, run, argv } } };
    },
  };
}

export function command(line: string): RunRequest {
  return { kind: 'command', request: { kind: 'command', command: line } };
}

/** Pids in a jail's cgroup (empty once the cgroup is gone). */
export function cgroupPids(procsFiles: readonly string[]): number[] {
  const pids: number[] = [];
  for (const file of procsFiles) {
    if (!existsSync(file)) continue;
    try {
      pids.push(...readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'ENODEV') throw error;
    }
  }
  return pids;
}

/**
 * The given pids that are still alive. A zombie is dead (it holds no memory, files or cgroup): an outer
 * bwrap whose launcher was SIGKILLed is reparented to the machine's init and is a zombie until reaped.
 */
export function livePids(pids: readonly number[]): number[] {
  return pids.filter((pid) => {
    try {
      return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return false; // gone
    }
  });
}

/** Host processes whose real uid is the given one (a jail's leased host uid): live ones, or only zombies. */
export function processesOfUid(uid: number, which: 'live' | 'zombie' = 'live'): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let status: string;
    try {
      status = readFileSync(`/proc/${name}/status`, 'utf8');
    } catch {
      continue; // the process exited while we looked
    }
    const uidLine = /^Uid:\s+(\d+)/m.exec(status);
    if (uidLine && Number(uidLine[1]) === uid && /^State:\s+Z/m.test(status) === (which === 'zombie')) pids.push(Number(name));
  }
  return pids;
}
