// Sessions on a worker of many hosts (issue 12): the registry (Redis) says which sessions exist; this
// worker holds the workspaces of the sessions bound to it. A session's first run binds it to the worker
// that claims it (first binder wins) and creates the workspace here; later runs are routed to this
// worker's own queue. A deletion published by any API node drops the workspace at once (its jails are
// killed through their signal); an expiry is found by the sweep.
import { DomainError } from '../domains/errors.js';
import type { Workspace, WorkspaceOptions } from '../jail/workspace.js';
import { SessionNotFoundError } from './manager.js';
import type { SessionRecord, SessionRegistry } from './registry.js';
import { LocalWorkspaces } from './workspaces.js';

export interface WorkerSessionsOptions {
  registry: SessionRegistry;
  workerId: string;
  createWorkspace(options: WorkspaceOptions): Promise<Workspace>;
  quotaBytes: number;
  maxInodes: number;
  /** How often workspaces of sessions the registry no longer has (expired) are removed. */
  sweepIntervalMs: number;
  /** While a run uses a session its registry entry is refreshed this often, so it cannot expire under the run. */
  keepAliveMs: number;
  onError?: (error: unknown) => void;
}

/** The session is bound to another worker: two first runs of a new session raced to two workers. */
export class SessionElsewhereError extends DomainError {
  constructor(readonly host: string, workerId: string) {
    super('unknown_error', `this session's workspace is on worker ${host}; the run reached worker ${workerId} (two first runs of a new session raced): submit it again`);
  }
}

export class WorkerSessions {
  private readonly workspaces: LocalWorkspaces;
  /** Session id -> tenant, for the sweep's registry look-ups. */
  private readonly tenants = new Map<string, string>();
  /** Binds in flight, so concurrent first runs on this worker bind and create once. */
  private readonly attaching = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(private readonly options: Readonly<WorkerSessionsOptions>) {
    this.workspaces = new LocalWorkspaces(options.createWorkspace, { sizeBytes: options.quotaBytes, maxInodes: options.maxInodes });
  }

  /**
   * Closes the sessions a previous process of this worker id held (JailHost.open swept their workspaces, so
   * they cannot be served), then listens for deletions and starts the sweep.
   */
  async start(): Promise<void> {
    for (const stale of await this.options.registry.forHost(this.options.workerId)) {
      if (!this.workspaces.has(stale.id)) await this.options.registry.close(stale.tenant, stale.id);
    }
    this.unsubscribe = await this.options.registry.onClosed((closed) => {
      if (this.workspaces.has(closed.id)) this.drop(closed.id).catch((error: unknown) => this.report(error));
    });
    this.timer ??= setInterval(() => {
      this.sweep().catch((error: unknown) => this.report(error));
    }, this.options.sweepIntervalMs).unref();
  }

  /** Workspaces held here. */
  get size(): number {
    return this.workspaces.size;
  }

  /**
   * Runs fn with the session's workspace (created here by the session's first run) and a signal that aborts
   * if the session is deleted meanwhile. Same shape as SessionManager.withWorkspace, so the executor takes either.
   */
  async withWorkspace<T>(tenant: string, idOrName: string, fn: (workspace: Workspace, signal: AbortSignal) => Promise<T>): Promise<T> {
    const { registry } = this.options;
    const record = await registry.touch(tenant, idOrName);
    if (!record) throw new SessionNotFoundError();
    if (!this.workspaces.has(record.id)) {
      let attaching = this.attaching.get(record.id);
      if (!attaching) {
        // Bound to this worker yet not held: either an API node placed it here before its first run
        // (placeSession), or it is a first run binding now. Sessions a previous process of this worker id
        // held were closed by start(), so they never get here.
        attaching = this.attach(record).finally(() => this.attaching.delete(record.id));
        this.attaching.set(record.id, attaching);
      }
      await attaching;
    } else {
      // Held, or being created by a concurrent first run on this worker: wait until it exists.
      await this.workspaces.ensure(record.id);
    }
    const keepAlive = setInterval(() => {
      registry.touch(tenant, record.id).catch((error: unknown) => this.report(error));
    }, this.options.keepAliveMs).unref();
    try {
      const leased = await this.workspaces.lease(record.id, fn);
      if (!leased) throw new SessionNotFoundError();
      return leased.value;
    } finally {
      clearInterval(keepAlive);
    }
  }

  /** Removes the workspaces of sessions the registry no longer has (expired, or deleted while this worker was away). */
  async sweep(): Promise<string[]> {
    const dropped: string[] = [];
    for (const id of this.workspaces.ids()) {
      const tenant = this.tenants.get(id);
      if (this.workspaces.leased(id) || tenant === undefined) continue;
      if (await this.options.registry.get(tenant, id)) continue;
      await this.drop(id);
      dropped.push(id);
    }
    return dropped;
  }

  /** Stops listening and removes every workspace held here (worker shutdown). The registry entries stay: API nodes answer session_host_gone for them. */
  async closeAll(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = undefined;
    if (unsubscribe) await unsubscribe();
    this.tenants.clear();
    await this.workspaces.dropAll();
  }

  private async attach(record: SessionRecord): Promise<void> {
    const { registry, workerId } = this.options;
    const host = await registry.bind(record.id, workerId);
    if (host === undefined) throw new SessionNotFoundError();
    if (host !== workerId) throw new SessionElsewhereError(host, workerId);
    this.tenants.set(record.id, record.tenant);
    await this.workspaces.ensure(record.id);
  }

  private async drop(id: string): Promise<void> {
    this.tenants.delete(id);
    await this.workspaces.drop(id);
  }

  private report(error: unknown): void {
    if (this.options.onError) this.options.onError(error);
    else process.stderr.write(`confine sessions: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
}
