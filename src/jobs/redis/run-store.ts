// The RunStore port on Redis (issue 12): any API node answers GET /runs/{id}, ?wait=true and the seed
// routes for a run executed on any worker. Every move is a compare-and-set in Lua (run-store-scripts.ts):
// state only moves forward and the first final state wins across processes. Finished records carry a TTL
// and sit in a finished index trimmed to maxFinished / maxTotalBytes (text cut to maxRecordBytes before
// it is counted), so Redis holds a bounded number of bounded records, as the memory store does.
import type { Redis } from 'ioredis';
import { FINAL, type FinalState } from '../outcomes.js';
import type { RecordBounds, RunStore } from '../ports.js';
import { trimRecord } from '../trim.js';
import type { RunRecord, RunState } from '../types.js';
import { FinishWaiters } from '../waiters.js';
import { closeClient, type RedisConnection } from './connection.js';
import { CREATE, DELETE, EVICT_NOW, UPDATE } from './run-store-scripts.js';

export interface RedisRunStoreOptions {
  /** A queued or running record is forgotten this long after its last move (a safety net: runs are bounded in time); default 24 h. */
  activeTtlMs?: number;
  /** Waiters re-read their record this often even without a notice (a notice lost in a Redis restart); default 5 s. */
  recheckMs?: number;
  now?: () => number;
}

const DEFAULT_ACTIVE_TTL_MS = 24 * 3_600_000;
/** Compare-and-set retries: a record moves at most three times, so more than a few means a bug. */
const MAX_ATTEMPTS = 20;

export class RedisRunStore implements RunStore {
  private readonly waiters = new FinishWaiters();
  /** Runs this process waits for: re-read after a reconnect (a notice may have been missed meanwhile). */
  private readonly waiting = new Map<string, number>();
  private subscriber: Promise<Redis> | undefined;
  private recheckTimer: NodeJS.Timeout | undefined;
  private readonly channel: string;
  private readonly now: () => number;

  constructor(
    private readonly conn: RedisConnection,
    private readonly bounds: Readonly<RecordBounds>,
    private readonly options: RedisRunStoreOptions = {},
  ) {
    if (!(bounds.maxFinished >= 1 && bounds.finishedTtlMs > 0)) throw new RangeError('record limits must be positive');
    if (!((bounds.maxRecordBytes ?? 0) >= 0 && (bounds.maxTotalBytes ?? 0) >= 0)) throw new RangeError('record byte limits must not be negative');
    this.channel = conn.key('runs', 'final');
    this.now = options.now ?? Date.now;
  }

  async create(record: RunRecord): Promise<void> {
    const stored: RunRecord = { ...record, state: 'queued' };
    const json = JSON.stringify(stored);
    const created = await this.eval(CREATE, record.id, record.tenant, json, this.activeTtlMs());
    if (created === 1) return;
    // A reply lost in a reconnect (Redis restarting): ioredis sends the script again and it meets the record
    // its first execution wrote. Ids are 128 random bits: the same record, byte for byte, is ours.
    const existing = await this.read(record.id);
    if (existing && JSON.stringify(existing.record) === json) return;
    throw new Error(`run store: duplicate id ${record.id}`);
  }

  async get(id: string): Promise<RunRecord | undefined> {
    await this.evict();
    return (await this.read(id))?.record;
  }

  async start(id: string, fields: Pick<RunRecord, 'started_at'> & Partial<RunRecord>): Promise<RunRecord | undefined> {
    return this.move(id, (record) => {
      if (record.state !== 'queued') return undefined;
      Object.assign(record, fields, { id, state: 'running' });
      return { record, bytes: 0 };
    });
  }

  async finish(id: string, state: FinalState, fields: Partial<RunRecord>): Promise<RunRecord | undefined> {
    return this.move(id, (record) => {
      Object.assign(record, fields, { id, state, finished_at: fields.finished_at ?? new Date(this.now()).toISOString() });
      // Cut to the per-record budget before it is stored and counted (the cut record is what every node sees).
      const bytes = trimRecord(record, this.bounds.maxRecordBytes ?? Infinity);
      return { record, bytes };
    });
  }

  async delete(id: string): Promise<void> {
    await this.eval(DELETE, id);
  }

  async recent(limit: number, tenant?: string): Promise<RunRecord[]> {
    await this.evict();
    if (limit <= 0) return [];
    const index = tenant === undefined ? this.conn.key('runs', 'created') : this.conn.key('runs', 'tenant', tenant);
    const ids = await this.conn.client.zrevrange(index, 0, limit - 1);
    if (ids.length === 0) return [];
    // One round trip for the page (GET /status lists up to a few hundred).
    const pipeline = this.conn.client.pipeline();
    for (const id of ids) pipeline.hget(this.conn.key('run', id), 'r');
    const replies = (await pipeline.exec()) ?? [];
    const out: RunRecord[] = [];
    for (const [i, id] of ids.entries()) {
      const [error, json] = replies[i] ?? [null, null];
      if (error) throw error;
      if (typeof json === 'string') out.push(JSON.parse(json) as RunRecord);
      // A record whose key expired on its own (the active TTL) leaves its index entry: tidy it.
      else await this.eval(DELETE, id);
    }
    return out;
  }

  async waitFinal(id: string, timeoutMs: number): Promise<RunRecord | undefined> {
    const first = await this.get(id);
    if (!first || FINAL.has(first.state)) return first;
    await this.subscribe();
    this.waiting.set(id, (this.waiting.get(id) ?? 0) + 1);
    try {
      const pending = this.waiters.wait(id, timeoutMs, () => this.get(id));
      // Read again after registering: a finish between the first read and the wait still wakes this waiter.
      const again = await this.read(id);
      if (again && FINAL.has(again.record.state)) this.waiters.wake(id, again.record);
      return await pending;
    } finally {
      this.unwait(id);
    }
  }

  async size(): Promise<{ records: number; bytes: number }> {
    await this.evict();
    const [records, bytes] = await Promise.all([
      this.conn.client.zcard(this.conn.key('runs', 'created')),
      this.conn.client.hget(this.conn.key('runs', 'meta'), 'bytes'),
    ]);
    return { records, bytes: Number(bytes ?? 0) };
  }

  /** Stops listening for finishes; the connection is the caller's. */
  async close(): Promise<void> {
    clearInterval(this.recheckTimer);
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber) await closeClient(await subscriber);
  }

  private async read(id: string): Promise<{ record: RunRecord; version: string } | undefined> {
    const [json, version] = await this.conn.client.hmget(this.conn.key('run', id), 'r', 'v');
    if (json == null || version == null) return undefined; // null: no such key; undefined never (the build checks indexed access)
    return { record: JSON.parse(json) as RunRecord, version };
  }

  /** Read, change in JS, compare-and-set; again if another process moved the record in between. */
  private async move(id: string, change: (record: RunRecord) => { record: RunRecord; bytes: number } | undefined): Promise<RunRecord | undefined> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.read(id);
      if (!current || FINAL.has(current.record.state)) return undefined;
      const next = change(current.record);
      if (!next) return undefined;
      const state: RunState = next.record.state;
      const final = FINAL.has(state);
      const written = await this.eval(UPDATE, id, current.version, state, JSON.stringify(next.record), final ? '1' : '0', next.bytes, this.now(),
        final ? this.bounds.finishedTtlMs + 60_000 : this.activeTtlMs(), this.bounds.finishedTtlMs, this.bounds.maxFinished,
        this.bounds.maxTotalBytes ?? -1, this.channel);
      if (written === 1) return next.record;
      if (written === -1) return undefined;
    }
    throw new Error(`run store: record ${id} kept moving under ${MAX_ATTEMPTS} attempts`);
  }

  private async evict(): Promise<void> {
    await this.eval(EVICT_NOW, this.now(), this.bounds.finishedTtlMs, this.bounds.maxFinished, this.bounds.maxTotalBytes ?? -1);
  }

  private async eval(script: string, ...args: (string | number)[]): Promise<number> {
    return Number(await this.conn.client.eval(script, 0, this.conn.prefix, ...args));
  }

  private activeTtlMs(): number {
    return this.options.activeTtlMs ?? DEFAULT_ACTIVE_TTL_MS;
  }

  private unwait(id: string): void {
    const left = (this.waiting.get(id) ?? 1) - 1;
    if (left > 0) this.waiting.set(id, left);
    else this.waiting.delete(id);
  }

  /** One subscriber per process for every finish; a reconnect (Redis restarted) re-reads every waited run. */
  private subscribe(): Promise<Redis> {
    this.subscriber ??= (async () => {
      const subscriber = this.conn.duplicate();
      subscriber.on('message', (_channel: string, id: string) => void this.recheck(id));
      subscriber.on('ready', () => {
        for (const id of this.waiting.keys()) void this.recheck(id);
      });
      await subscriber.subscribe(this.channel);
      this.recheckTimer = setInterval(() => {
        for (const id of this.waiting.keys()) void this.recheck(id);
      }, this.options.recheckMs ?? 5_000);
      this.recheckTimer.unref();
      return subscriber;
    })();
    return this.subscriber;
  }

  private async recheck(id: string): Promise<void> {
    if (!this.waiting.has(id)) return;
    try {
      const found = await this.read(id);
      if (found && FINAL.has(found.record.state)) this.waiters.wake(id, found.record);
    } catch (error) {
      // Redis away: the next notice, reconnect or recheck tick tries again; the waiter's timeout bounds it.
      process.stderr.write(`confine run store: re-reading ${id} failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
}
