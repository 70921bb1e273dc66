// Run records held in memory for polling. Active records are bounded by the queue and the worker pool;
// finished ones by count, by bytes (each record's text is cut to a per-record budget before it is
// counted, see trim.ts) and by age, oldest finished evicted first, so a flood of runs cannot grow memory
// without bound (DoS). A count bound alone let 180 large-output runs take 450 MiB.
// MemoryRunStore (below) is the RunStore port on top of it for one process (embedded mode): every handle
// made with peer() shares one RunRecordStore and one set of waiters.
import { FINAL, snapshot, type FinalState } from './outcomes.js';
import type { RecordBounds, RunStore } from './ports.js';
import { trimRecord } from './trim.js';
import type { RunRecord } from './types.js';
import { FinishWaiters } from './waiters.js';

/** The same bounds as the port's (kept under its old name for existing callers). */
export type RecordLimits = RecordBounds;

export const DEFAULT_RECORD_BOUNDS: RecordBounds = { maxFinished: 1000, finishedTtlMs: 3_600_000 };

export class RunRecordStore {
  private readonly byId = new Map<string, RunRecord>();
  // Insertion order is finish order, so the first entry is always the oldest finished run.
  private readonly finishedAt = new Map<string, number>();
  private readonly bytesOf = new Map<string, number>();
  private totalBytes = 0;

  constructor(
    private readonly limits: Readonly<RecordLimits>,
    private readonly now: () => number,
  ) {
    if (!(limits.maxFinished >= 1 && limits.finishedTtlMs > 0)) throw new RangeError('record limits must be positive');
    if (!((limits.maxRecordBytes ?? 0) >= 0 && (limits.maxTotalBytes ?? 0) >= 0)) throw new RangeError('record byte limits must not be negative');
  }

  get size(): number {
    return this.byId.size;
  }

  /** Text bytes the finished records hold. */
  get bytes(): number {
    return this.totalBytes;
  }

  add(record: RunRecord): void {
    this.byId.set(record.id, record);
  }

  get(id: string): RunRecord | undefined {
    this.evict();
    return this.byId.get(id);
  }

  delete(id: string): void {
    this.byId.delete(id);
    this.finishedAt.delete(id);
    this.totalBytes -= this.bytesOf.get(id) ?? 0;
    this.bytesOf.delete(id);
  }

  /** Cuts the record's text to the per-record budget (in place), then counts it and evicts what is over. */
  markFinished(id: string): void {
    const record = this.byId.get(id);
    if (record) {
      const bytes = trimRecord(record, this.limits.maxRecordBytes ?? Infinity);
      this.bytesOf.set(id, bytes);
      this.totalBytes += bytes;
    }
    this.finishedAt.set(id, this.now());
    this.evict();
  }

  /** Newest first (creation order), optionally one tenant's only. */
  recent(limit: number, tenant?: string): RunRecord[] {
    this.evict();
    const out: RunRecord[] = [];
    const all = [...this.byId.values()];
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
      const record = all[i]!;
      if (tenant === undefined || record.tenant === tenant) out.push(record);
    }
    return out;
  }

  private evict(): void {
    const oldestAllowed = this.now() - this.limits.finishedTtlMs;
    const maxBytes = this.limits.maxTotalBytes ?? Infinity;
    for (const [id, at] of this.finishedAt) {
      if (this.finishedAt.size <= this.limits.maxFinished && at >= oldestAllowed && this.totalBytes <= maxBytes) break;
      this.delete(id);
    }
  }
}

interface SharedRecords {
  records: RunRecordStore;
  waiters: FinishWaiters;
  now: () => number;
}

export class MemoryRunStore implements RunStore {
  private readonly shared: SharedRecords;

  /** `sharing`: a handle whose records this one shares (see peer()); bounds and clock are then its. */
  constructor(bounds: Readonly<RecordBounds> = DEFAULT_RECORD_BOUNDS, now: () => number = Date.now, sharing?: MemoryRunStore) {
    this.shared = sharing?.shared ?? { records: new RunRecordStore(bounds, now), waiters: new FinishWaiters(), now };
  }

  /** Another handle on the same records (what another process would see through a shared store). */
  peer(): MemoryRunStore {
    return new MemoryRunStore(undefined, undefined, this);
  }

  async create(record: RunRecord): Promise<void> {
    this.shared.records.add({ ...record, state: 'queued' });
  }

  async get(id: string): Promise<RunRecord | undefined> {
    const record = this.shared.records.get(id);
    return record ? snapshot(record) : undefined;
  }

  async start(id: string, fields: Pick<RunRecord, 'started_at'> & Partial<RunRecord>): Promise<RunRecord | undefined> {
    const record = this.shared.records.get(id);
    if (!record || record.state !== 'queued') return undefined;
    Object.assign(record, fields, { id, state: 'running' });
    return snapshot(record);
  }

  async finish(id: string, state: FinalState, fields: Partial<RunRecord>): Promise<RunRecord | undefined> {
    const { records, waiters, now } = this.shared;
    const record = records.get(id);
    if (!record || FINAL.has(record.state)) return undefined;
    Object.assign(record, fields, { id, state, finished_at: fields.finished_at ?? new Date(now()).toISOString() });
    records.markFinished(id); // trims the text in place, then evicts what is over the bounds
    const final = snapshot(record);
    waiters.wake(id, final);
    return final;
  }

  async delete(id: string): Promise<void> {
    this.shared.records.delete(id);
  }

  async recent(limit: number, tenant?: string): Promise<RunRecord[]> {
    return this.shared.records.recent(limit, tenant).map(snapshot);
  }

  async waitFinal(id: string, timeoutMs: number): Promise<RunRecord | undefined> {
    const record = this.shared.records.get(id);
    if (!record) return undefined;
    if (FINAL.has(record.state)) return snapshot(record);
    return this.shared.waiters.wait(id, timeoutMs, () => this.get(id));
  }

  async size(): Promise<{ records: number; bytes: number }> {
    return { records: this.shared.records.size, bytes: this.shared.records.bytes };
  }

  async close(): Promise<void> {
    // Nothing held per handle: the records live as long as the process (waiters end with their timeouts).
  }
}
