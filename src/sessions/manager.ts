// Sessions (seed 004) in one process (embedded): a workspace tmpfs kept between requests, sized by the
// session disk quota, with a TTL refreshed on every use and a cleanup worker that unmounts expired ones.
// Every request still runs in a fresh jail; only the workspace persists. Sessions are tenant-scoped:
// another tenant's id or name is "not found", and the number of live sessions is bounded (each holds a
// tmpfs and a host uid). The bookkeeping of which sessions exist is here; the workspaces themselves are
// LocalWorkspaces, the part a worker of many hosts keeps too (worker-sessions.ts, registry in Redis).
import { randomBytes } from 'node:crypto';
import { DomainError } from '../domains/errors.js';
import type { Workspace, WorkspaceOptions } from '../jail/workspace.js';
import { checkName } from './registry.js';
import { LocalWorkspaces } from './workspaces.js';

export interface SessionInfo {
  /** Server-chosen, 128 random bits. */
  id: string;
  /** Client-chosen name (seed 004 `session_id`); opening the same name again returns the same session. */
  name?: string;
  created_at: string;
  expires_at: string;
  ttl_seconds: number;
}

export interface SessionManagerOptions {
  /** Creates the session's workspace (JailHost.createWorkspace). */
  createWorkspace(options: WorkspaceOptions): Promise<Workspace>;
  ttlMs: number;
  /** Absolute lifetime, however often the session is used (0: none). An in-use session goes at the next pass. */
  maxAgeMs?: number;
  quotaBytes: number;
  maxInodes: number;
  maxSessions: number;
  maxPerTenant: number;
  cleanupIntervalMs: number;
  /** A workspace that failed to unmount, a cleanup pass that threw: the service logs it. */
  onError?: (error: unknown) => void;
  now?: () => number;
}

interface Session {
  id: string;
  tenant: string;
  name?: string;
  createdAt: number;
  expiresAt: number;
}

export class SessionNotFoundError extends DomainError {
  constructor() {
    super('validation_error', 'session not found (expired or deleted)');
  }
}

export class SessionManager {
  private readonly byId = new Map<string, Session>();
  private readonly byName = new Map<string, string>();
  private readonly opening = new Map<string, Promise<Session>>();
  /** The workspaces; one in use (leased) is never removed by cleanup. */
  private readonly workspaces: LocalWorkspaces;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  /** Sessions whose workspace is being mounted, per tenant: they count against the limits too. */
  private readonly pending = new Map<string, number>();

  constructor(private readonly options: Readonly<SessionManagerOptions>) {
    this.now = options.now ?? Date.now;
    this.workspaces = new LocalWorkspaces(options.createWorkspace, { sizeBytes: options.quotaBytes, maxInodes: options.maxInodes });
  }

  /** Starts the cleanup worker (unref'd: it never keeps the process alive). */
  start(): void {
    this.timer ??= setInterval(() => {
      this.cleanup().catch((error: unknown) => this.report(error));
    }, this.options.cleanupIntervalMs).unref();
  }

  /** Creates a session; with a name, idempotent within the tenant. Throws resource_limit beyond the bounds. */
  async open(tenant: string, name?: string): Promise<SessionInfo> {
    checkName(name);
    if (name !== undefined) {
      const existing = this.find(tenant, name, false);
      if (existing) return this.info(this.refresh(existing));
      const key = nameKey(tenant, name);
      const inFlight = this.opening.get(key);
      if (inFlight) return this.info(await inFlight);
      const creating = this.create(tenant, name).finally(() => this.opening.delete(key));
      this.opening.set(key, creating);
      return this.info(await creating);
    }
    return this.info(await this.create(tenant, undefined));
  }

  /** By id or name; refreshes the TTL. undefined for unknown and other tenants' sessions alike. */
  async touch(tenant: string, idOrName: string): Promise<SessionInfo | undefined> {
    const session = this.find(tenant, idOrName, true);
    return session ? this.info(this.refresh(session)) : undefined;
  }

  /** Without refreshing the TTL. */
  get(tenant: string, idOrName: string): SessionInfo | undefined {
    const session = this.find(tenant, idOrName, true);
    return session ? this.info(session) : undefined;
  }

  list(tenant: string): SessionInfo[] {
    return [...this.byId.values()].filter((s) => s.tenant === tenant).map((s) => this.info(s));
  }

  get size(): number {
    return this.byId.size;
  }

  /** Deletes a session: running jails in it are aborted, the workspace is unmounted once they are gone. */
  async close(tenant: string, idOrName: string): Promise<boolean> {
    const session = this.find(tenant, idOrName, false);
    if (!session) return false;
    await this.remove(session);
    return true;
  }

  /**
   * Runs fn with the session's workspace and a signal that aborts if the session is deleted meanwhile.
   * The TTL is refreshed before and after; the session cannot expire while fn runs.
   */
  async withWorkspace<T>(tenant: string, idOrName: string, fn: (workspace: Workspace, signal: AbortSignal) => Promise<T>): Promise<T> {
    const session = this.find(tenant, idOrName, true);
    if (!session) throw new SessionNotFoundError();
    this.refresh(session);
    try {
      const leased = await this.workspaces.lease(session.id, fn);
      if (!leased) throw new SessionNotFoundError();
      return leased.value;
    } finally {
      if (this.byId.get(session.id) === session) this.refresh(session);
    }
  }

  /** Removes expired sessions that no request is using; returns their ids. */
  async cleanup(): Promise<string[]> {
    const now = this.now();
    const expired = [...this.byId.values()].filter((s) => !this.workspaces.leased(s.id) && this.isExpired(s, now));
    for (const session of expired) {
      try {
        await this.remove(session);
      } catch (error) {
        this.report(error);
      }
    }
    return expired.map((s) => s.id);
  }

  /** Stops the cleanup worker and removes every session (service shutdown). */
  async closeAll(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const failures: unknown[] = [];
    for (const session of [...this.byId.values()]) {
      await this.remove(session).catch((error: unknown) => failures.push(error));
    }
    if (failures.length > 0) throw new AggregateError(failures, 'sessions: some workspaces could not be removed');
  }

  private async create(tenant: string, name: string | undefined): Promise<Session> {
    const live = [...this.byId.values()];
    const pendingAll = [...this.pending.values()].reduce((a, b) => a + b, 0);
    const pendingMine = this.pending.get(tenant) ?? 0;
    if (live.length + pendingAll >= this.options.maxSessions) {
      throw new DomainError('resource_limit', `the service holds its maximum of ${this.options.maxSessions} sessions`);
    }
    if (live.filter((s) => s.tenant === tenant).length + pendingMine >= this.options.maxPerTenant) {
      throw new DomainError('resource_limit', `a tenant may hold at most ${this.options.maxPerTenant} sessions; delete one first`);
    }
    this.pending.set(tenant, pendingMine + 1);
    const id = randomBytes(16).toString('hex');
    try {
      await this.workspaces.ensure(id);
    } finally {
      const left = (this.pending.get(tenant) ?? 1) - 1;
      if (left > 0) this.pending.set(tenant, left);
      else this.pending.delete(tenant);
    }
    const now = this.now();
    const session: Session = {
      id,
      tenant,
      ...(name === undefined ? {} : { name }),
      createdAt: now,
      expiresAt: now + this.options.ttlMs,
    };
    this.byId.set(session.id, session);
    if (name !== undefined) this.byName.set(nameKey(tenant, name), session.id);
    return session;
  }

  private async remove(session: Session): Promise<void> {
    if (this.byId.get(session.id) !== session) return;
    this.byId.delete(session.id);
    if (session.name !== undefined) this.byName.delete(nameKey(session.tenant, session.name));
    // In use: the last request to finish disposes it (its jail is being killed through the signal).
    await this.workspaces.drop(session.id);
  }

  /** Looks up by name first (seed 004), then by id; only the tenant's own, only live ones. */
  private find(tenant: string, idOrName: string, liveOnly: boolean): Session | undefined {
    const id = this.byName.get(nameKey(tenant, idOrName)) ?? idOrName;
    const session = this.byId.get(id);
    if (!session || session.tenant !== tenant) return undefined;
    if (liveOnly && !this.workspaces.leased(session.id) && this.isExpired(session, this.now())) return undefined;
    return session;
  }

  private isExpired(session: Session, now: number): boolean {
    const maxAge = this.options.maxAgeMs ?? 0;
    return session.expiresAt <= now || (maxAge > 0 && session.createdAt + maxAge <= now);
  }

  private refresh(session: Session): Session {
    const maxAge = this.options.maxAgeMs ?? 0;
    const ttlEnd = this.now() + this.options.ttlMs;
    // Never past the absolute age limit, so expires_at tells the client the truth.
    session.expiresAt = Math.max(session.expiresAt, maxAge > 0 ? Math.min(ttlEnd, session.createdAt + maxAge) : ttlEnd);
    return session;
  }

  private info(session: Session): SessionInfo {
    return {
      id: session.id,
      ...(session.name === undefined ? {} : { name: session.name }),
      created_at: new Date(session.createdAt).toISOString(),
      expires_at: new Date(session.expiresAt).toISOString(),
      ttl_seconds: Math.round(this.options.ttlMs / 1000),
    };
  }

  private report(error: unknown): void {
    if (this.options.onError) this.options.onError(error);
    else process.stderr.write(`confine sessions: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
}

function nameKey(tenant: string, name: string): string {
  return `${tenant}\u0000${name}`;
}
