// The real executor: a RunRequest goes to its domain runner (Terraform or commands) with the run's abort
// signal; a session's workspace is leased for commands/scripts; a Terraform plan's JSON is stored as an
// artifact and referenced from the record (large plans are kept out of the in-memory record entirely,
// so run records stay small and memory stays bounded).
import type { Artifacts } from '../artifacts/index.js';
import type { CommandRunner } from '../domains/commands/index.js';
import type { CommandRequest, CommandResult, ScriptRequest } from '../domains/commands/types.js';
import { DomainError, type ClassifiedError } from '../domains/errors.js';
import type { TerraformRunner } from '../domains/terraform/index.js';
import type { TerraformProgress, TerraformResult } from '../domains/terraform/types.js';
import type { SessionManager } from '../sessions/manager.js';
import type { Execution, Executor, RunContext } from './executor-types.js';
import { resolveTerraformInput } from './resolve-input.js';
import type { RunRequest } from './types.js';

export interface ExecutorDeps {
  terraform: Pick<TerraformRunner, 'run'>;
  commands: Pick<CommandRunner, 'run'>;
  /** fetchWorkspace reads stored archives named by reference (absent: such runs are refused). */
  artifacts: Pick<Artifacts, 'storePlanFile'> & Partial<Pick<Artifacts, 'fetchWorkspace'>>;
  sessions?: Pick<SessionManager, 'withWorkspace'>;
  /** Plan JSON up to this size stays inline in the record too; larger plans only via plan_reference. */
  inlinePlanMaxBytes?: number;
  /** Per-step Terraform progress (metrics: step latency). */
  onTerraformProgress?: (context: RunContext, progress: TerraformProgress) => void;
}

export const DEFAULT_INLINE_PLAN_MAX_BYTES = 256 * 1024;

export function createExecutor(deps: ExecutorDeps): Executor {
  const inlineMax = deps.inlinePlanMaxBytes ?? DEFAULT_INLINE_PLAN_MAX_BYTES;

  async function terraform(request: Extract<RunRequest, { kind: 'terraform' }>['request'], context: RunContext): Promise<Execution> {
    if (context.sessionId !== undefined) {
      return { outcome: { kind: 'terraform', result: rejectedTerraform({ type: 'validation_error', message: 'sessions apply to commands and scripts, not Terraform runs' }) } };
    }
    // A stored archive is read now, at execution time (the queue holds only its reference).
    const resolved = await resolveTerraformInput(deps.artifacts, context.tenant, request);
    if (!resolved.ok) return { outcome: { kind: 'terraform', result: rejectedTerraform(resolved.error) } };
    const onProgress = deps.onTerraformProgress;
    let plan_reference: string | undefined;
    const result = await deps.terraform.run(resolved.request, {
      signal: context.signal,
      inlinePlanMaxBytes: inlineMax,
      // The plan streams from the domain's spool file to the store; it is never whole in memory here.
      onPlan: async (plan) => {
        plan_reference = await deps.artifacts.storePlanFile(context.tenant, context.runId, plan.path, plan.bytes);
      },
      ...(onProgress ? { onProgress: (progress: TerraformProgress) => onProgress(context, progress) } : {}),
    });
    return { outcome: { kind: 'terraform', result }, ...(plan_reference === undefined ? {} : { plan_reference }) };
  }

  async function shell(request: CommandRequest | ScriptRequest, context: RunContext): Promise<CommandResult> {
    if (context.sessionId === undefined) return deps.commands.run(request, { signal: context.signal });
    if (!deps.sessions) return rejectedCommand({ type: 'validation_error', message: 'sessions are not enabled on this service' });
    try {
      return await deps.sessions.withWorkspace(context.tenant, context.sessionId, (workspace, sessionSignal) =>
        // Either a cancel of the run or the deletion of its session kills the jail.
        deps.commands.run(request, { signal: AbortSignal.any([context.signal, sessionSignal]), workspace }),
      );
    } catch (error) {
      // Session gone (expired or deleted before the run started), or a limit: a result, not a crash.
      if (error instanceof DomainError) return rejectedCommand(error.toJSON());
      throw error;
    }
  }

  return {
    async execute(run, context) {
      switch (run.kind) {
        case 'terraform':
          return terraform(run.request, context);
        case 'command':
        case 'script':
          return { outcome: { kind: run.kind, result: await shell(run.request, context) } };
      }
    },
  };
}

function rejectedTerraform(error: ClassifiedError): TerraformResult {
  return { status: 'failed', error, findings: [], diagnostics: [], summary: null, steps: [], plan_json: null };
}

function rejectedCommand(error: ClassifiedError): CommandResult {
  return { status: 'failed', error, run: null };
}
