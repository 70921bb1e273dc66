import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import type { Command } from 'commander';
import { DEFAULT_LIMITS, MiB } from '../../jail/limits.js';
import { buildShellProfile, shellSpec } from '../../jail/profiles/shell.js';
import type { JailLimits } from '../../jail/spec.js';
import { cliConfig, fail, openJailHost, parsePositive } from '../context.js';
import { exitStatusOf, formatRunResult } from '../format/run-result.js';

interface ExecOptions {
  script?: string;
  allow?: string;
  timeout?: string;
  memory?: string;
  pids?: string;
  json?: boolean;
}

export function registerExec(program: Command): void {
  program
    .command('exec')
    .description('run a script under sh in a shell jail that holds only the allowed programs')
    .requiredOption('--script <file>', 'script to run under sh')
    .option('--allow <programs>', 'comma-separated programs that exist in the jail (default: ALLOWED_COMMANDS)')
    .option('--timeout <seconds>', 'wall-clock limit')
    .option('--memory <MiB>', 'memory limit')
    .option('--pids <n>', 'process limit')
    .option('--json', 'print the RunResult as JSON')
    .action(async (options: ExecOptions) => {
      const config = cliConfig();
      const script = await readFile(options.script!, 'utf8').catch(() => fail(`cannot read script ${options.script}`, 2));
      const limits: JailLimits = {
        ...DEFAULT_LIMITS,
        wallTimeMs: seconds(options.timeout, config.defaultExecTimeoutSeconds, config.maxExecTimeoutSeconds, '--timeout') * 1000,
        memoryBytes: bounded(options.memory, config.execMemoryMiB, '--memory') * MiB,
        maxPids: bounded(options.pids, config.execMaxPids, '--pids'),
        cpuCores: config.cpuCores,
      };
      limits.cpuTimeMs = limits.wallTimeMs;
      const allow = options.allow ? options.allow.split(',').map((s) => s.trim()).filter(Boolean) : config.allowedCommands;
      const host = await openJailHost(config);
      const profile = await buildShellProfile(allow, host.tools.ldd);
      const result = await host.run(shellSpec(profile, { command: { script }, limits }));
      process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : formatRunResult(result));
      process.exitCode = exitStatusOf(result, (name) => constants.signals[name as NodeJS.Signals]);
    });
}

function seconds(value: string | undefined, fallback: number, max: number, flag: string): number {
  const n = value === undefined ? fallback : parsePositive(flag, value);
  if (n > max) fail(`${flag} ${n} exceeds the operator maximum of ${max}`, 2);
  return n;
}

/** Requests may lower a configured limit, never raise it. */
function bounded(value: string | undefined, max: number, flag: string): number {
  if (value === undefined) return max;
  const n = parsePositive(flag, value);
  if (n > max) fail(`${flag} ${n} exceeds the operator maximum of ${max}`, 2);
  return Math.floor(n);
}
