// The commands domain's entry point: request -> checks at the edge -> one fresh jail -> CommandResult.
// Order matters: everything that can reject (tokenizer, allowlist, limits, inputs) runs before any
// workspace or jail exists, so a rejected request starts nothing.
import type { Config } from '../../config/settings.js';
import type { JailHost } from '../../jail/host.js';
import { DEFAULT_WORKSPACE_INODES } from '../../jail/host.js';
import { findExecutable } from '../../jail/host-tools.js';
import { shellSpec, type ShellRunRequest } from '../../jail/profiles/shell.js';
import { JailSetupError } from '../../jail/errors.js';
import type { Workspace } from '../../jail/workspace.js';
import { DomainError } from '../errors.js';
import { checkCommand, type CommandPolicy } from './allowlist.js';
import { injectIntoUsedWorkspace } from './inject.js';
import { checkFiles, resolveCwd, type InputFile, type InputLimits } from './inputs.js';
import { requestLimits } from './limits.js';
import { ProfileCache } from './profiles.js';
import { completed, rejected } from './result.js';
import { CommandRulesError, loadRules } from './rules.js';
import { asTerraformSpec } from './terraform-command.js';
import { tokenize } from './tokenizer.js';
import { workspaceAccessError } from './workspace-access.js';
import type { CommandRequest, CommandResult, ScriptRequest } from './types.js';

export interface CommandRunOptions {
  signal?: AbortSignal;
  /** A session's workspace: used, never disposed. Without it a fresh one is created and removed. */
  workspace?: Workspace;
}

export interface CommandRunner {
  run(request: CommandRequest | ScriptRequest, options?: CommandRunOptions): Promise<CommandResult>;
  /** Writes files into a workspace jails may already have used, from inside a jail as its uid. */
  injectFiles(workspace: Workspace, files: Record<string, string>): Promise<void>;
}

export const MAX_SCRIPT_BYTES = 256 * 1024;

interface Prepared {
  command: ShellRunRequest['command'];
  programs: readonly string[];
  argv?: string[];
}

/**
 * Throws CommandRulesError (start-up) when an allowlisted program is missing on the host or
 * COMMAND_RULES_FILE is unreadable or breaks the schema.
 */
export function createCommandRunner(host: JailHost, config: Readonly<Config>): CommandRunner {
  // Fail at start, not on the first request, when an allowlisted program is missing on this host.
  const missing = config.allowedCommands.filter((name) => !/^[A-Za-z0-9._+-]+$/.test(name) || findExecutable(name) === undefined);
  if (missing.length > 0) throw new CommandRulesError('ALLOWED_COMMANDS', `not found on this host: ${missing.join(', ')}`);
  const policy: CommandPolicy = { allowed: [...config.allowedCommands], rules: loadRules(config.commandRulesFile, config.allowedCommands) };
  const profiles = new ProfileCache(host.programSource);
  const inputLimits: InputLimits = { maxFiles: config.execMaxInputFiles, maxBytes: config.execMaxInputBytes };

  const prepare = (request: CommandRequest | ScriptRequest): Prepared => {
    if (request.kind === 'command') {
      if (typeof request.command !== 'string') throw new DomainError('validation_error', 'command must be a string');
      const argv = checkCommand(tokenize(request.command), policy);
      // `sh script.sh` runs a script that may call the other allowlisted programs; any other command
      // gets a jail holding only its own program.
      return { command: { argv }, programs: argv[0] === 'sh' ? policy.allowed : [argv[0]!], argv };
    }
    if (request.kind === 'script') {
      if (typeof request.script !== 'string') throw new DomainError('validation_error', 'script must be a string');
      if (!policy.allowed.includes('sh')) throw new DomainError('security_violation', 'scripts are disabled: sh is not in ALLOWED_COMMANDS', 'sh');
      const bytes = Buffer.byteLength(request.script, 'utf8');
      if (bytes > MAX_SCRIPT_BYTES) throw new DomainError('validation_error', `script is ${bytes} bytes; the limit is ${MAX_SCRIPT_BYTES}`, 'script');
      return { command: { script: request.script }, programs: policy.allowed };
    }
    throw new DomainError('validation_error', `unknown request kind ${JSON.stringify((request as { kind?: unknown }).kind)}`);
  };

  const writeInputs = async (workspace: Workspace, files: readonly InputFile[], fresh: boolean, signal?: AbortSignal): Promise<void> => {
    if (files.length === 0) return;
    // A fresh workspace has held no jail, so root may seed it (O_EXCL, no links can exist yet).
    if (fresh) await workspace.seed(files.map((f) => ({ path: f.path, content: f.content })));
    else await injectIntoUsedWorkspace(host, profiles, workspace, files, config.execMaxInputBytes, signal);
  };

  return {
    async run(request, options = {}) {
      let prepared: Prepared | undefined;
      try {
        prepared = prepare(request);
        const limits = requestLimits(request, config);
        const files = checkFiles(request.files, inputLimits, request.stdin);
        const profile = await profiles.get(prepared.programs);
        const fresh = options.workspace === undefined;
        const workspace = options.workspace ?? (await host.createWorkspace({ sizeBytes: limits.tmpfsBytes, maxInodes: DEFAULT_WORKSPACE_INODES }));
        try {
          await writeInputs(workspace, files, fresh, options.signal).catch((error: unknown) => explain(error, workspace, fresh, []));
          const cwd = await resolveCwd(request.cwd, workspace.hostPath);
          const shell = shellSpec(profile, { command: prepared.command, limits, cwd, ...(request.stdin === undefined ? {} : { stdin: request.stdin }) });
          const spec = prepared.argv?.[0] === 'terraform' ? asTerraformSpec(shell) : shell;
          const run = await host.run(spec, workspace, options.signal ? { signal: options.signal } : {}).catch((error: unknown) =>
            explain(error, workspace, fresh, cwdSegments(cwd)),
          );
          return completed(run, prepared.argv);
        } finally {
          if (fresh) await workspace.dispose();
        }
      } catch (error) {
        if (error instanceof DomainError) return rejected(error, prepared?.argv);
        throw error;
      }
    },

    async injectFiles(workspace, files) {
      await injectIntoUsedWorkspace(host, profiles, workspace, checkFiles(files, inputLimits), config.execMaxInputBytes).catch((error: unknown) =>
        explain(error, workspace, false, []),
      );
    },
  };
}

/**
 * A jail that could not start in a session workspace: when the tenant's own earlier request made the
 * workspace (or the cwd) unusable, that is the tenant's error, not the service's; anything else stays
 * what it was (an internal error).
 */
async function explain(error: unknown, workspace: Workspace, fresh: boolean, cwd: readonly string[]): Promise<never> {
  if (!fresh && error instanceof JailSetupError) {
    const tenantCause = await workspaceAccessError(workspace.hostPath, workspace.identity.uid, cwd);
    if (tenantCause) throw tenantCause;
  }
  throw error;
}

/** `/workspace/a/b` -> ['a', 'b'] (already validated by resolveCwd). */
function cwdSegments(jailCwd: string): string[] {
  return jailCwd.split('/').slice(2);
}

export type { CommandRequest, CommandResult, ScriptRequest } from './types.js';
