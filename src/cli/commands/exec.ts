// `confine exec`: builds the same CommandRequest/ScriptRequest the HTTP API builds and runs it through the
// same createCommandRunner().run(), so the CLI cannot validate differently from the service.
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import type { Command } from 'commander';
import type { Config } from '../../config/settings.js';
import { createCommandRunner, type CommandRunner } from '../../domains/commands/index.js';
import type { JailHost } from '../../jail/host.js';
import { CommandRulesError } from '../../domains/commands/rules.js';
import { quoteArgv } from '../../domains/commands/tokenizer.js';
import type { CommandInputs, CommandRequest, CommandResult, ScriptRequest } from '../../domains/commands/types.js';
import { cliConfig, fail, openJailHost } from '../context.js';
import { exitStatusOf, formatRunResult } from '../format/run-result.js';

interface ExecOptions {
  script?: string;
  allow?: string;
  file: string[];
  stdin?: string;
  cwd?: string;
  timeout?: string;
  memory?: string;
  pids?: string;
  json?: boolean;
}

/** Exit status of a request rejected before anything ran (126: "cannot execute"). */
export const REJECTED_EXIT_STATUS = 126;

export function registerExec(program: Command): void {
  program
    .command('exec')
    .description('run one allowlisted command (argv, never a shell) or a script under sh in a fresh jail')
    .argument('[command...]', 'the command and its arguments, after "--"')
    .option('--script <file>', 'script to run under sh (a jail holding only the allowed programs)')
    .option('--allow <programs>', 'comma-separated programs that may run (default: ALLOWED_COMMANDS)')
    .option('--file <name=path>', 'input file for the workspace (repeatable)', (value: string, all: string[]) => [...all, value], [])
    .option('--stdin <file>', 'file whose content is the program\'s stdin')
    .option('--cwd <dir>', 'working directory inside the workspace')
    .option('--timeout <seconds>', 'wall-clock limit (at most MAX_EXEC_TIMEOUT_SECONDS)')
    .option('--memory <MiB>', 'memory limit (at most EXEC_MEMORY_LIMIT_MB)')
    .option('--pids <n>', 'process limit (at most EXEC_MAX_PIDS)')
    .option('--json', 'print the result as JSON')
    .action(async (words: string[], options: ExecOptions) => {
      if (options.script !== undefined && words.length > 0) fail('give either --script FILE or -- CMD ARGS, not both', 2);
      if (options.script === undefined && words.length === 0) fail('nothing to run: give -- CMD ARGS or --script FILE', 2);
      const base = cliConfig();
      const config = options.allow === undefined ? base : { ...base, allowedCommands: options.allow.split(',').map((s) => s.trim()).filter(Boolean) };
      const inputs = await readInputs(options);
      const request: CommandRequest | ScriptRequest =
        options.script !== undefined
          ? { kind: 'script', script: await readFile(options.script, 'utf8').catch(() => fail(`cannot read script ${options.script}`, 2)), ...inputs }
          : // Re-quoted so the tokenizer sees exactly these words: `';'` stays one word and is still rejected.
            { kind: 'command', command: quoteArgv(words), ...inputs };

      const runner = commandRunner(await openJailHost(config), config);
      printResult(await runner.run(request), options.json === true);
    });
}

function commandRunner(host: JailHost, config: Readonly<Config>): CommandRunner {
  try {
    return createCommandRunner(host, config);
  } catch (error) {
    if (error instanceof CommandRulesError) fail(`configuration error: ${error.message}`, 2);
    throw error;
  }
}

async function readInputs(options: ExecOptions): Promise<CommandInputs> {
  const inputs: CommandInputs = {};
  for (const spec of options.file) {
    const at = spec.indexOf('=');
    if (at <= 0) fail(`--file expects NAME=PATH, got "${spec}"`, 2);
    const path = spec.slice(at + 1);
    (inputs.files ??= {})[spec.slice(0, at)] = await readFile(path, 'utf8').catch(() => fail(`cannot read input file ${path}`, 2));
  }
  if (options.stdin !== undefined) inputs.stdin = await readFile(options.stdin, 'utf8').catch(() => fail(`cannot read ${options.stdin}`, 2));
  if (options.cwd !== undefined) inputs.cwd = options.cwd;
  // Numbers go to the runner unchecked: it validates them exactly as it does for the API.
  if (options.timeout !== undefined) inputs.timeout_seconds = Number(options.timeout);
  if (options.memory !== undefined) inputs.memory_mib = Number(options.memory);
  if (options.pids !== undefined) inputs.max_pids = Number(options.pids);
  return inputs;
}

function printResult(result: CommandResult, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    if (result.run) process.stdout.write(formatRunResult(result.run));
    if (result.error) process.stderr.write(`${result.error.type}: ${result.error.message}\n`);
  }
  process.exitCode = result.run ? exitStatusOf(result.run, (name) => constants.signals[name as NodeJS.Signals]) : REJECTED_EXIT_STATUS;
}
