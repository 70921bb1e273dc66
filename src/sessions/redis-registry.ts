// The session registry in Redis, shared by every API node and worker (issue 12). Checks and writes run as
// Lua scripts (redis-scripts.ts); every key carries a TTL or belongs to a zset trimmed by expiry, so the
// registry holds at most SESSION_MAX_COUNT live sessions. Deletions are published on one channel so the
// worker holding a session's workspace unmounts it at once; expiries are found by that worker's sweep.
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DomainError } from '../domains/errors.js';
import { BIND, CLOSE, FIND, OPEN } from './redis-scripts.js';
import {
  checkName,
  SESSION_NAME,
  serviceFull,
  tenantFull,
  type SessionClosed,
  type SessionRecord,
  type SessionRegistry,
  type SessionRegistryLimits,
} from './registry.js';

/** What the registry needs of a Redis connection (src/jobs/redis/connection.ts RedisConnection fits). */
export interface RedisLink {
  readonly client: Redis;
  /** `<prefix>:<part>:...` */
  key(...parts: string[]): string;
  /** A new connection for the subscription; the registry closes it. */
  duplicate(): Redis;
}

export class RedisSessionRegistry implements SessionRegistry {
  private readonly subscribers = new Set<Redis>();

  constructor(
    private readonly redis: RedisLink,
    private readonly limits: Readonly<SessionRegistryLimits>,
    private readonly now: () => number = Date.now,
  ) {}

  async open(tenant: string, name?: string): Promise<SessionRecord> {
    checkName(name);
    const { ttlMs, maxAgeMs, maxSessions, maxPerTenant } = this.limits;
    const answer = (await this.redis.client.eval(
      OPEN, 3, this.allKey(), this.tenantKey(tenant), this.nameKey(tenant, name ?? ''),
      this.now(), ttlMs, maxAgeMs, maxSessions, maxPerTenant, randomBytes(16).toString('hex'), tenant, name ?? '', this.recordPrefix(),
    )) as [string, string?];
    if (answer[0] === 'service') throw serviceFull(this.limits);
    if (answer[0] === 'tenant') throw tenantFull(this.limits);
    return parse(answer[1]);
  }

  get(tenant: string, idOrName: string): Promise<SessionRecord | undefined> {
    return this.find(tenant, idOrName, false);
  }

  touch(tenant: string, idOrName: string): Promise<SessionRecord | undefined> {
    return this.find(tenant, idOrName, true);
  }

  async close(tenant: string, idOrName: string): Promise<SessionRecord | undefined> {
    if (!SESSION_NAME.test(idOrName)) return undefined;
    const raw = (await this.redis.client.eval(
      CLOSE, 3, this.allKey(), this.tenantKey(tenant), this.nameKey(tenant, idOrName),
      idOrName, tenant, this.recordPrefix(), this.nameKey(tenant, ''), this.channel(),
    )) as string | null;
    return raw === null ? undefined : parse(raw);
  }

  async bind(id: string, workerId: string): Promise<string | undefined> {
    if (!SESSION_NAME.test(id)) return undefined;
    const host = (await this.redis.client.eval(BIND, 1, this.recordPrefix() + id, workerId, this.now())) as string | null;
    return host ?? undefined;
  }

  async forHost(workerId: string): Promise<SessionRecord[]> {
    return (await this.live(this.allKey())).filter((s) => s.host === workerId);
  }

  async list(tenant: string): Promise<SessionRecord[]> {
    return (await this.live(this.tenantKey(tenant))).filter((s) => s.tenant === tenant);
  }

  async onClosed(handler: (closed: SessionClosed) => void): Promise<() => Promise<void>> {
    const subscriber = this.redis.duplicate();
    this.subscribers.add(subscriber);
    const channel = this.channel();
    subscriber.on('message', (from: string, message: string) => {
      if (from !== channel) return;
      const closed = parseClosed(message);
      if (closed) handler(closed);
    });
    // ioredis re-subscribes by itself after a reconnect (autoResubscribe).
    await subscriber.subscribe(channel);
    return async () => {
      this.subscribers.delete(subscriber);
      await quit(subscriber);
    };
  }

  async dispose(): Promise<void> {
    const subscribers = [...this.subscribers];
    this.subscribers.clear();
    await Promise.all(subscribers.map(quit));
  }

  private async find(tenant: string, idOrName: string, refresh: boolean): Promise<SessionRecord | undefined> {
    if (!SESSION_NAME.test(idOrName)) return undefined;
    const { ttlMs, maxAgeMs } = this.limits;
    const raw = (await this.redis.client.eval(
      FIND, 3, this.allKey(), this.tenantKey(tenant), this.nameKey(tenant, idOrName),
      this.now(), ttlMs, maxAgeMs, idOrName, tenant, this.recordPrefix(), refresh ? '1' : '0', this.nameKey(tenant, ''),
    )) as string | null;
    return raw === null ? undefined : parse(raw);
  }

  /** Members of a zset not yet expired, read in one MGET (a zset holds at most the bound's count). */
  private async live(zset: string): Promise<SessionRecord[]> {
    const ids = await this.redis.client.zrangebyscore(zset, `(${this.now()}`, '+inf');
    if (ids.length === 0) return [];
    const raws = await this.redis.client.mget(ids.map((id) => this.recordPrefix() + id));
    return raws.filter((raw): raw is string => raw !== null).map(parse);
  }

  private allKey(): string {
    return this.redis.key('sessions');
  }

  private tenantKey(tenant: string): string {
    return this.redis.key('sessions', 'tenant', digest(tenant));
  }

  private recordPrefix(): string {
    return this.redis.key('session', '');
  }

  /** A tenant's name key; with name '' the prefix of all its name keys. */
  private nameKey(tenant: string, name: string): string {
    return this.redis.key('session-name', digest(tenant), name);
  }

  private channel(): string {
    return this.redis.key('sessions', 'closed');
  }
}

/** Tenants are free text from auth: a digest keeps keys short and free of separators. */
function digest(tenant: string): string {
  return createHash('sha256').update(tenant).digest('hex').slice(0, 32);
}

function parse(raw: string | undefined): SessionRecord {
  const value: unknown = JSON.parse(raw ?? 'null');
  if (!isRecord(value)) throw new DomainError('unknown_error', 'session registry: a stored session record is malformed');
  return {
    id: value.id,
    tenant: value.tenant,
    ...(typeof value.name === 'string' ? { name: value.name } : {}),
    createdAtMs: value.createdAtMs,
    expiresAtMs: value.expiresAtMs,
    ...(typeof value.host === 'string' ? { host: value.host } : {}),
  };
}

function isRecord(value: unknown): value is SessionRecord {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['id'] === 'string' && typeof v['tenant'] === 'string' && typeof v['createdAtMs'] === 'number' && typeof v['expiresAtMs'] === 'number';
}

function parseClosed(message: string): SessionClosed | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    // Only this module publishes on the channel; anything else there is ignored, not trusted.
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v['id'] !== 'string' || typeof v['tenant'] !== 'string') return undefined;
  return { id: v['id'], tenant: v['tenant'], ...(typeof v['host'] === 'string' ? { host: v['host'] } : {}) };
}

async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') await client.quit();
  else client.disconnect(false);
}
