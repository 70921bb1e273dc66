// Which workers are alive (issue 12): each worker process keeps `<prefix>:workers:<id>` (id, host, slots,
// busy, started_at) alive with a heartbeat under a TTL, and removes it at a clean stop. A worker that dies
// (kill -9, host gone) stops beating and its key expires: /ready on an API node, the metrics, and a session
// bound to that worker (`session_host_gone`) all read that from here. The index of ids is a sorted set by
// last beat, pruned of the expired as it is read, so it stays bounded by the workers alive.
import { hostname } from 'node:os';
import type { RedisConnection } from './connection.js';

export interface WorkerInfo {
  id: string;
  host: string;
  /** Runs it can hold at once (WORKERS). */
  slots: number;
  /** Slots busy at the last beat. */
  busy: number;
  started_at: string;
  /** Its last beat. */
  seen_at: string;
}

export interface WorkerRegistryOptions {
  /** WORKER_HEARTBEAT_SECONDS in ms: how often a registered worker beats. */
  heartbeatMs: number;
  /** How long a worker counts as alive after its last beat; default 3 beats. */
  ttlMs?: number;
  /** A beat that failed (Redis away); the next beat tries again. */
  onError?: (error: unknown) => void;
  now?: () => number;
}

export const WORKER_ID_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

/** WORKER_ID's default: unique per process on a host, readable in errors ("worker web-3-4121 stopped ..."). */
export function defaultWorkerId(): string {
  return `${hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 100)}-${process.pid}`;
}

export class RedisWorkerRegistry {
  private timer: NodeJS.Timeout | undefined;
  private me: { id: string; host: string; slots: number; started_at: string; busy: () => number } | undefined;
  private readonly index: string;
  private readonly now: () => number;

  constructor(
    private readonly conn: RedisConnection,
    private readonly options: WorkerRegistryOptions,
  ) {
    if (!(options.heartbeatMs > 0)) throw new RangeError('heartbeat must be positive');
    this.index = conn.key('workers');
    this.now = options.now ?? Date.now;
  }

  private get ttlMs(): number {
    return this.options.ttlMs ?? 3 * this.options.heartbeatMs;
  }

  /** Registers this process as worker `id` and beats every heartbeatMs until unregister(). */
  async register(worker: { id: string; slots: number; host?: string }, busy: () => number): Promise<void> {
    if (!WORKER_ID_PATTERN.test(worker.id)) throw new RangeError(`WORKER_ID must be 1-128 of [A-Za-z0-9_.-], got ${JSON.stringify(worker.id)}`);
    if (this.me) throw new Error(`worker registry: already registered as ${this.me.id}`);
    this.me = { id: worker.id, host: worker.host ?? hostname(), slots: worker.slots, started_at: new Date(this.now()).toISOString(), busy };
    await this.beat();
    this.timer = setInterval(() => {
      this.beat().catch((error: unknown) => (this.options.onError ?? reportToStderr)(error));
    }, this.options.heartbeatMs);
    this.timer.unref();
  }

  /** Writes this worker's record now (also called on each tick; call it when busy changes for fresher metrics). */
  async beat(): Promise<void> {
    const me = this.me;
    if (!me) return;
    const now = this.now();
    const info: WorkerInfo = { id: me.id, host: me.host, slots: me.slots, busy: me.busy(), started_at: me.started_at, seen_at: new Date(now).toISOString() };
    await this.conn.client.multi()
      .set(this.conn.key('workers', me.id), JSON.stringify(info), 'PX', this.ttlMs)
      .zadd(this.index, now, me.id)
      // Known until the host reaper has emptied and removed its host queue (host-reaper.ts).
      .sadd(this.conn.key('known-workers'), me.id)
      .exec();
  }

  /** Workers whose last beat is within the TTL, oldest registration first. */
  async alive(): Promise<WorkerInfo[]> {
    await this.conn.client.zremrangebyscore(this.index, '-inf', String(this.now() - this.ttlMs));
    const ids = await this.conn.client.zrange(this.index, '0', '-1');
    if (ids.length === 0) return [];
    const values = await this.conn.client.mget(ids.map((id) => this.conn.key('workers', id)));
    const out: WorkerInfo[] = [];
    for (const value of values) if (value !== null) out.push(JSON.parse(value) as WorkerInfo);
    return out.sort((a, b) => a.started_at.localeCompare(b.started_at) || a.id.localeCompare(b.id));
  }

  async isAlive(id: string): Promise<boolean> {
    return (await this.conn.client.exists(this.conn.key('workers', id))) === 1;
  }

  /** Every worker id registered since its host queue was last reaped (alive or not). */
  async known(): Promise<string[]> {
    return this.conn.client.smembers(this.conn.key('known-workers'));
  }

  /** The host reaper is done with `id` (its host queue is going); true for the one caller that removed it. */
  async forget(id: string): Promise<boolean> {
    return (await this.conn.client.srem(this.conn.key('known-workers'), id)) === 1;
  }

  /** A clean stop: beats end and the record goes at once (an API node sees one worker fewer right away). */
  async unregister(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const me = this.me;
    this.me = undefined;
    if (!me) return;
    await this.conn.client.multi().del(this.conn.key('workers', me.id)).zrem(this.index, me.id).exec();
  }

  /** Stops beating without unregistering: what a dead process looks like (tests, and close after a crash). */
  stopBeating(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.me = undefined;
  }
}

function reportToStderr(error: unknown): void {
  process.stderr.write(`confine worker registry: heartbeat failed: ${error instanceof Error ? error.message : String(error)}\n`);
}
