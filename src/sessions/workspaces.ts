// The local half of sessions: the workspaces this process holds, keyed by session id. A workspace is a
// tmpfs on this host, so it lives in the process that runs the session's jails (the embedded service, or
// the worker a session is bound to); the registry of which sessions exist lives elsewhere (registry.ts).
// A workspace in use is never disposed under a running jail: dropping it aborts the jails' signal and the
// last lease to end disposes it.
import type { Workspace, WorkspaceOptions } from '../jail/workspace.js';

interface Held {
  workspace: Workspace;
  /** Runs using the workspace right now. */
  leases: number;
  /** Aborted when the session is deleted or expires, so its running jails die with it. */
  controller: AbortController;
  dropped: boolean;
}

export class LocalWorkspaces {
  private readonly held = new Map<string, Held>();
  private readonly creating = new Map<string, Promise<Held>>();

  constructor(
    private readonly createWorkspace: (options: WorkspaceOptions) => Promise<Workspace>,
    private readonly options: Readonly<WorkspaceOptions>,
  ) {}

  has(id: string): boolean {
    return this.held.has(id) || this.creating.has(id);
  }

  /** Held now (created, not dropped). */
  get size(): number {
    return this.held.size;
  }

  ids(): string[] {
    return [...this.held.keys()];
  }

  leased(id: string): boolean {
    return (this.held.get(id)?.leases ?? 0) > 0;
  }

  /** The session's workspace, created once however many callers ask at the same time. */
  async ensure(id: string): Promise<Workspace> {
    const existing = this.held.get(id);
    if (existing) return existing.workspace;
    let creating = this.creating.get(id);
    if (!creating) {
      creating = this.createWorkspace(this.options)
        .then((workspace) => {
          const held: Held = { workspace, leases: 0, controller: new AbortController(), dropped: false };
          this.held.set(id, held);
          return held;
        })
        .finally(() => this.creating.delete(id));
      this.creating.set(id, creating);
    }
    return (await creating).workspace;
  }

  /** Runs fn with the workspace and a signal aborted if the session is dropped meanwhile; undefined when not held. */
  async lease<T>(id: string, fn: (workspace: Workspace, signal: AbortSignal) => Promise<T>): Promise<{ value: T } | undefined> {
    const held = this.held.get(id);
    if (!held || held.dropped) return undefined;
    held.leases++;
    try {
      return { value: await fn(held.workspace, held.controller.signal) };
    } finally {
      held.leases--;
      if (held.dropped && held.leases === 0) await held.workspace.dispose();
    }
  }

  /** Forgets the workspace: running jails in it are aborted, it is disposed once they are gone. */
  async drop(id: string, reason = 'session closed'): Promise<void> {
    // One being created is dropped as soon as it exists; a failed creation is its creator's to report.
    const pending = this.creating.get(id);
    if (pending) await pending.catch(() => undefined);
    const held = this.held.get(id);
    if (!held || held.dropped) return;
    held.dropped = true;
    this.held.delete(id);
    held.controller.abort(reason);
    if (held.leases === 0) await held.workspace.dispose();
  }

  /** Drops every workspace; failures are collected so one stuck unmount does not keep the others. */
  async dropAll(): Promise<void> {
    const failures: unknown[] = [];
    for (const id of [...this.held.keys(), ...this.creating.keys()]) {
      await this.drop(id).catch((error: unknown) => failures.push(error));
    }
    if (failures.length > 0) throw new AggregateError(failures, 'sessions: some workspaces could not be removed');
  }
}
