// What the session suites share: a SessionManager on the real jail host that keeps the workspaces it
// created (for uid and mount checks), and a job service whose executor runs commands in those sessions.
import type { CommandRunner } from '../../src/domains/commands/index.js';
import type { JailHost } from '../../src/jail/host.js';
import type { Workspace } from '../../src/jail/workspace.js';
import { createExecutor } from '../../src/jobs/executor.js';
import { MemoryJobQueue } from '../../src/jobs/queue.js';
import { createJobService, type JobServiceHandle } from '../../src/jobs/service.js';
import { SessionManager, type SessionManagerOptions } from '../../src/sessions/index.js';

export function recordingSessions(host: JailHost, options: Omit<SessionManagerOptions, 'createWorkspace'>): { sessions: SessionManager; workspaces: Workspace[] } {
  const workspaces: Workspace[] = [];
  const sessions = new SessionManager({
    createWorkspace: async (workspaceOptions) => {
      const workspace = await host.createWorkspace(workspaceOptions);
      workspaces.push(workspace);
      return workspace;
    },
    ...options,
  });
  return { sessions, workspaces };
}

export function sessionJobs(commands: CommandRunner, sessions: SessionManager): JobServiceHandle {
  const executor = createExecutor({
    terraform: { run: async () => { throw new Error('no terraform in these tests'); } },
    commands,
    artifacts: { storePlanFile: async () => { throw new Error('no plans in these tests'); } },
    sessions,
  });
  return createJobService({ queue: new MemoryJobQueue({ capacity: 8, perTenant: 8 }), workers: 2, executor, runTimeoutMs: () => 60_000 });
}
