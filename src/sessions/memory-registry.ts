// The session registry in one process's memory. Every operation runs without an await between its check
// and its write, so concurrent opens cannot slip past a bound and the first bind wins. Expired entries are
// dropped as they are met and before every open, so the maps never hold more than the bounds allow.
import { randomBytes } from 'node:crypto';
import {
  checkName,
  refreshedExpiry,
  serviceFull,
  tenantFull,
  type SessionClosed,
  type SessionRecord,
  type SessionRegistry,
  type SessionRegistryLimits,
} from './registry.js';

export class MemorySessionRegistry implements SessionRegistry {
  private readonly byId = new Map<string, SessionRecord>();
  private readonly byName = new Map<string, string>();
  private readonly listeners = new Set<(closed: SessionClosed) => void>();

  constructor(
    private readonly limits: Readonly<SessionRegistryLimits>,
    private readonly now: () => number = Date.now,
  ) {}

  async open(tenant: string, name?: string): Promise<SessionRecord> {
    checkName(name);
    const now = this.now();
    this.dropExpired(now);
    if (name !== undefined) {
      const existing = this.find(tenant, name, now);
      if (existing) return this.refresh(existing, now);
    }
    if (this.byId.size >= this.limits.maxSessions) throw serviceFull(this.limits);
    if ([...this.byId.values()].filter((s) => s.tenant === tenant).length >= this.limits.maxPerTenant) throw tenantFull(this.limits);
    const record: SessionRecord = {
      id: randomBytes(16).toString('hex'),
      tenant,
      ...(name === undefined ? {} : { name }),
      createdAtMs: now,
      expiresAtMs: now + (this.limits.maxAgeMs > 0 ? Math.min(this.limits.ttlMs, this.limits.maxAgeMs) : this.limits.ttlMs),
    };
    this.byId.set(record.id, record);
    if (name !== undefined) this.byName.set(nameKey(tenant, name), record.id);
    return { ...record };
  }

  async get(tenant: string, idOrName: string): Promise<SessionRecord | undefined> {
    const record = this.find(tenant, idOrName, this.now());
    return record ? { ...record } : undefined;
  }

  async touch(tenant: string, idOrName: string): Promise<SessionRecord | undefined> {
    const now = this.now();
    const record = this.find(tenant, idOrName, now);
    return record ? this.refresh(record, now) : undefined;
  }

  async close(tenant: string, idOrName: string): Promise<SessionRecord | undefined> {
    const id = this.byName.get(nameKey(tenant, idOrName)) ?? idOrName;
    const record = this.byId.get(id);
    if (!record || record.tenant !== tenant) return undefined;
    this.remove(record);
    const closed: SessionClosed = { id: record.id, tenant, ...(record.host === undefined ? {} : { host: record.host }) };
    for (const listener of this.listeners) listener(closed);
    return { ...record };
  }

  async bind(id: string, workerId: string): Promise<string | undefined> {
    const record = this.byId.get(id);
    if (!record || record.expiresAtMs <= this.now()) return undefined;
    record.host ??= workerId;
    return record.host;
  }

  async forHost(workerId: string): Promise<SessionRecord[]> {
    const now = this.now();
    return [...this.byId.values()].filter((s) => s.host === workerId && s.expiresAtMs > now).map((s) => ({ ...s }));
  }

  async list(tenant: string): Promise<SessionRecord[]> {
    const now = this.now();
    return [...this.byId.values()].filter((s) => s.tenant === tenant && s.expiresAtMs > now).map((s) => ({ ...s }));
  }

  async onClosed(handler: (closed: SessionClosed) => void): Promise<() => Promise<void>> {
    this.listeners.add(handler);
    return async () => {
      this.listeners.delete(handler);
    };
  }

  async dispose(): Promise<void> {
    this.listeners.clear();
  }

  /** Name first (seed 004), then id; only the tenant's own and only live ones. */
  private find(tenant: string, idOrName: string, now: number): SessionRecord | undefined {
    const id = this.byName.get(nameKey(tenant, idOrName)) ?? idOrName;
    const record = this.byId.get(id);
    if (!record || record.tenant !== tenant) return undefined;
    if (record.expiresAtMs <= now) {
      this.remove(record);
      return undefined;
    }
    return record;
  }

  private refresh(record: SessionRecord, now: number): SessionRecord {
    record.expiresAtMs = refreshedExpiry(record, now, this.limits);
    return { ...record };
  }

  private dropExpired(now: number): void {
    for (const record of this.byId.values()) if (record.expiresAtMs <= now) this.remove(record);
  }

  private remove(record: SessionRecord): void {
    this.byId.delete(record.id);
    if (record.name !== undefined) this.byName.delete(nameKey(record.tenant, record.name));
  }
}

function nameKey(tenant: string, name: string): string {
  return `${tenant}\u0000${name}`;
}
