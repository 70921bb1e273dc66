// Callers waiting for a run to reach a final state (?wait=true, cancel) in one process: each gets the
// final record when the run finishes, or the record as it is then when its own timeout passes, whichever
// comes first. The memory RunStore wakes them; a Redis store wakes them from its finish notifications.
import type { RunRecord } from './types.js';

export class FinishWaiters {
  private readonly byRun = new Map<string, Set<(final: RunRecord | undefined) => void>>();

  /** `current` reads the record at timeout (it may have changed state, or been forgotten, meanwhile). */
  wait(id: string, timeoutMs: number, current: () => Promise<RunRecord | undefined> | RunRecord | undefined): Promise<RunRecord | undefined> {
    return new Promise((resolve, reject) => {
      const set = this.byRun.get(id) ?? new Set<(final: RunRecord | undefined) => void>();
      this.byRun.set(id, set);
      const done = (final: RunRecord | undefined): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.byRun.get(id) === set) this.byRun.delete(id);
        if (final) resolve(final);
        else Promise.resolve(current()).then(resolve, reject);
      };
      // Clamped: Node fires a timer of more than 2^31-1 ms at once (TimeoutOverflowWarning).
      const timer = setTimeout(() => done(undefined), Math.min(Math.max(0, timeoutMs), 2_147_483_647));
      set.add(done);
    });
  }

  /** The run is final: every waiter gets (its own copy of) the final record now. */
  wake(id: string, final: RunRecord): void {
    const set = this.byRun.get(id);
    if (!set) return;
    this.byRun.delete(id);
    for (const done of set) done({ ...final });
  }

  /** Runs someone waits for (a Redis store listens only while this is non-zero). */
  get size(): number {
    return this.byRun.size;
  }
}
