// Callers waiting for a run to reach a final state (?wait=true, cancel): each gets a snapshot when the
// run finishes or when its own timeout passes, whichever comes first.
import { FINAL, snapshot } from './outcomes.js';
import type { RunRecord } from './types.js';

export class FinishWaiters {
  private readonly byRun = new Map<string, Set<() => void>>();

  wait(record: RunRecord, timeoutMs: number): Promise<RunRecord> {
    if (FINAL.has(record.state)) return Promise.resolve(snapshot(record));
    return new Promise((resolve) => {
      const set = this.byRun.get(record.id) ?? new Set<() => void>();
      this.byRun.set(record.id, set);
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        resolve(snapshot(record));
      };
      // Clamped: Node fires a timer of more than 2^31-1 ms at once (TimeoutOverflowWarning).
      const timer = setTimeout(done, Math.min(Math.max(0, timeoutMs), 2_147_483_647));
      set.add(done);
    });
  }

  /** The run is final: every waiter gets its snapshot now. */
  wake(id: string): void {
    for (const done of this.byRun.get(id) ?? []) done();
    this.byRun.delete(id);
  }
}
