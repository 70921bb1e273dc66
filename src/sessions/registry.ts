// The session registry (issue 12): which sessions exist, whose they are, until when, and which worker holds
// each one's workspace. One process keeps it in memory; many hosts keep it in Redis so every API node
// answers for every session. The workspace itself never enters the registry: it stays on the worker that
// ran the session's first run (WorkerSessions), and later runs are routed there by `host`.
// Both implementations pass tests/sessions/registry-conformance.ts.
import { DomainError } from '../domains/errors.js';

export interface SessionRecord {
  /** Server-chosen, 128 random bits (hex). */
  id: string;
  tenant: string;
  /** Client-chosen name (seed 004 `session_id`), unique within the tenant. */
  name?: string;
  createdAtMs: number;
  /** Refreshed on use (TTL), never past createdAtMs + the absolute max age. */
  expiresAtMs: number;
  /** The worker holding the workspace, set by the session's first run (bind). */
  host?: string;
}

export interface SessionRegistryLimits {
  ttlMs: number;
  /** Absolute lifetime however often the session is used; 0: none. */
  maxAgeMs: number;
  /** Live sessions, all tenants together. */
  maxSessions: number;
  maxPerTenant: number;
}

/** What a subscriber hears when a session is deleted (not when it merely expires: sweeps find those). */
export interface SessionClosed {
  id: string;
  tenant: string;
  host?: string;
}

export interface SessionRegistry {
  /** New session; with a name, the tenant's live session of that name if any (TTL refreshed). Bounds are atomic. */
  open(tenant: string, name?: string): Promise<SessionRecord>;
  /** The tenant's live session by name or id, without refreshing; undefined for unknown, expired and foreign alike. */
  get(tenant: string, idOrName: string): Promise<SessionRecord | undefined>;
  /** Like get, and refreshes the TTL (capped by the max age). */
  touch(tenant: string, idOrName: string): Promise<SessionRecord | undefined>;
  /** Deletes the tenant's session and tells subscribers; the removed record, or undefined. */
  close(tenant: string, idOrName: string): Promise<SessionRecord | undefined>;
  /** First binder wins: the worker now holding the session (maybe another one), undefined when it is gone. */
  bind(id: string, workerId: string): Promise<string | undefined>;
  /** Live sessions bound to a worker (a restarted worker closes its predecessor's: their workspaces were swept). */
  forHost(workerId: string): Promise<SessionRecord[]>;
  /** The tenant's live sessions. */
  list(tenant: string): Promise<SessionRecord[]>;
  /** Hears every close, from any process; returns the unsubscribe function. */
  onClosed(handler: (closed: SessionClosed) => void): Promise<() => Promise<void>>;
  /** Releases connections and timers (not the sessions). */
  dispose(): Promise<void>;
}

/** Names clients may choose: safe in a Redis key and a log line. Server ids (32 hex) match it too. */
export const SESSION_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function checkName(name: string | undefined): void {
  if (name !== undefined && !SESSION_NAME.test(name)) {
    throw new DomainError('validation_error', 'invalid session id: 1-128 of A-Z a-z 0-9 . _ : -', name.slice(0, 40));
  }
}

export function serviceFull(limits: SessionRegistryLimits): DomainError {
  return new DomainError('resource_limit', `the service holds its maximum of ${limits.maxSessions} sessions`);
}

export function tenantFull(limits: SessionRegistryLimits): DomainError {
  return new DomainError('resource_limit', `a tenant may hold at most ${limits.maxPerTenant} sessions; delete one first`);
}

/** The expiry a use at `now` gives: TTL from now, never past the absolute age, never earlier than it was. */
export function refreshedExpiry(record: Pick<SessionRecord, 'createdAtMs' | 'expiresAtMs'>, now: number, limits: SessionRegistryLimits): number {
  const ttlEnd = now + limits.ttlMs;
  return Math.max(record.expiresAtMs, limits.maxAgeMs > 0 ? Math.min(ttlEnd, record.createdAtMs + limits.maxAgeMs) : ttlEnd);
}

/** Where a run of the session must go: the bound worker, or undefined (any worker; the first to run it binds it). */
export async function sessionHost(registry: Pick<SessionRegistry, 'get'>, tenant: string, idOrName: string): Promise<string | undefined> {
  return (await registry.get(tenant, idOrName))?.host;
}
