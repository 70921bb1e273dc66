// Wakes claimers waiting on an empty queue. A claimer notes the generation, looks for work, and waits only
// if the generation has not moved since: a notice arriving between "found nothing" and "start waiting" is
// never lost. A Redis pub/sub notice can be lost (a restart drops subscriptions until ioredis resubscribes),
// so waiters also wake after `pollMs` and look again.

export class Wakeup {
  private generation = 0;
  private readonly waiters = new Set<() => void>();

  get seen(): number {
    return this.generation;
  }

  notify(): void {
    this.generation++;
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves on the next notice after `seen`, at once if one came already, on abort, or after pollMs. */
  wait(seen: number, pollMs: number, signal?: AbortSignal): Promise<void> {
    if (this.generation !== seen || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, pollMs);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
