// Run records held in memory for polling. Active records are bounded by the queue and the worker pool;
// finished ones by count (oldest finished evicted first) and by age, so a flood of runs cannot grow
// memory without bound (DoS).
import type { RunRecord } from './types.js';

export interface RecordLimits {
  maxFinished: number;
  finishedTtlMs: number;
}

export class RunRecordStore {
  private readonly byId = new Map<string, RunRecord>();
  // Insertion order is finish order, so the first entry is always the oldest finished run.
  private readonly finishedAt = new Map<string, number>();

  constructor(
    private readonly limits: Readonly<RecordLimits>,
    private readonly now: () => number,
  ) {
    if (!(limits.maxFinished >= 1 && limits.finishedTtlMs > 0)) throw new RangeError('record limits must be positive');
  }

  get size(): number {
    return this.byId.size;
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
  }

  markFinished(id: string): void {
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
    for (const [id, at] of this.finishedAt) {
      if (this.finishedAt.size <= this.limits.maxFinished && at >= oldestAllowed) break;
      this.delete(id);
    }
  }
}
