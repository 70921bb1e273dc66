// Run records held in memory for polling. Active records are bounded by the queue and the worker pool;
// finished ones by count, by bytes (each record's text is cut to a per-record budget before it is
// counted, see trim.ts) and by age, oldest finished evicted first, so a flood of runs cannot grow memory
// without bound (DoS). A count bound alone let 180 large-output runs take 450 MiB.
import { trimRecord } from './trim.js';
import type { RunRecord } from './types.js';

export interface RecordLimits {
  maxFinished: number;
  finishedTtlMs: number;
  /** Text bytes (outputs, diagnostics, inline plan) one finished record keeps; default: unbounded. */
  maxRecordBytes?: number;
  /** Text bytes all finished records keep together; default: unbounded. */
  maxTotalBytes?: number;
}

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
