// The queue behind the job service, as a backend interface: the in-memory adapter below is the default
// (one process); a Redis/BullMQ adapter for many hosts implements the same contract and must pass the
// same conformance suite (tests/jobs/queue-conformance.ts). Both bounds are checked atomically inside
// enqueue, so a burst can never push the queue past them (unbounded memory growth is a DoS).

export interface QueueEntry<T> {
  /** The run id (unguessable, unique). */
  id: string;
  tenant: string;
  /** Plain, serializable data (a Redis adapter stores it as JSON). */
  payload: T;
}

export interface QueueLimits {
  /** Entries waiting, all tenants together. */
  capacity: number;
  /** Entries one tenant may have waiting, so one tenant cannot take the whole queue. */
  perTenant: number;
}

export type EnqueueResult = { accepted: true } | { accepted: false; reason: 'service' | 'tenant' | 'closed' };

export interface JobQueue<T> {
  readonly limits: Readonly<QueueLimits>;
  /** Adds the entry if both bounds allow it and the queue is open; never throws for a full queue. */
  enqueue(entry: QueueEntry<T>): Promise<EnqueueResult>;
  /**
   * Takes the oldest waiting entry, waiting for one if the queue is empty. Resolves undefined once the
   * queue is closed and empty (workers then stop), or when the signal aborts.
   */
  claim(signal?: AbortSignal): Promise<QueueEntry<T> | undefined>;
  /**
   * Marks a claimed entry as done, whatever its outcome. A durable adapter (Redis/BullMQ: manual
   * `getNextJob` + `moveToCompleted`) keeps claimed entries until acked so a crashed worker's entries can
   * be found again; the memory adapter forgets them at claim. Idempotent; unknown ids are ignored.
   */
  ack(id: string): Promise<void>;
  /** Removes a waiting entry (cancel before it runs); false when it was already claimed or is unknown. */
  remove(id: string): Promise<boolean>;
  size(): Promise<number>;
  sizeFor(tenant: string): Promise<number>;
  /** Stops accepting; entries already waiting can still be claimed (drain). Idempotent. */
  close(): Promise<void>;
  /** Removes and returns every waiting entry (shutdown after the grace period). */
  drain(): Promise<QueueEntry<T>[]>;
}

interface Claimer<T> {
  resolve(entry: QueueEntry<T> | undefined): void;
}

export class MemoryJobQueue<T> implements JobQueue<T> {
  // A Map keeps insertion (FIFO) order and removes by id in O(1).
  private readonly waiting = new Map<string, QueueEntry<T>>();
  private readonly perTenant = new Map<string, number>();
  private readonly claimers: Claimer<T>[] = [];
  private closed = false;

  constructor(readonly limits: Readonly<QueueLimits>) {
    if (!(limits.capacity >= 1 && limits.perTenant >= 1)) throw new RangeError('queue limits must be at least 1');
  }

  async enqueue(entry: QueueEntry<T>): Promise<EnqueueResult> {
    if (this.closed) return { accepted: false, reason: 'closed' };
    if (this.waiting.has(entry.id)) throw new Error(`queue: duplicate id ${entry.id}`);
    // A waiting claimer takes the entry at once: it never occupies queue capacity.
    const claimer = this.claimers.shift();
    if (claimer) {
      claimer.resolve(entry);
      return { accepted: true };
    }
    if (this.waiting.size >= this.limits.capacity) return { accepted: false, reason: 'service' };
    const mine = this.perTenant.get(entry.tenant) ?? 0;
    if (mine >= this.limits.perTenant) return { accepted: false, reason: 'tenant' };
    this.waiting.set(entry.id, entry);
    this.perTenant.set(entry.tenant, mine + 1);
    return { accepted: true };
  }

  claim(signal?: AbortSignal): Promise<QueueEntry<T> | undefined> {
    const next = this.takeOldest();
    if (next || this.closed || signal?.aborted) return Promise.resolve(next);
    return new Promise((resolve) => {
      const claimer: Claimer<T> = {
        resolve: (entry) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(entry);
        },
      };
      const onAbort = (): void => {
        const index = this.claimers.indexOf(claimer);
        if (index >= 0) this.claimers.splice(index, 1);
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.claimers.push(claimer);
    });
  }

  async ack(_id: string): Promise<void> {
    // Nothing is held after claim in memory: a crash loses the whole process, queue included.
  }

  async remove(id: string): Promise<boolean> {
    const entry = this.waiting.get(id);
    if (!entry) return false;
    this.forget(entry);
    return true;
  }

  async size(): Promise<number> {
    return this.waiting.size;
  }

  async sizeFor(tenant: string): Promise<number> {
    return this.perTenant.get(tenant) ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    // Waiting claimers are only waiting because the queue is empty: closed and empty means done.
    for (const claimer of this.claimers.splice(0)) claimer.resolve(undefined);
  }

  async drain(): Promise<QueueEntry<T>[]> {
    const entries = [...this.waiting.values()];
    this.waiting.clear();
    this.perTenant.clear();
    return entries;
  }

  private takeOldest(): QueueEntry<T> | undefined {
    const first = this.waiting.values().next();
    if (first.done) return undefined;
    this.forget(first.value);
    return first.value;
  }

  private forget(entry: QueueEntry<T>): void {
    this.waiting.delete(entry.id);
    const left = (this.perTenant.get(entry.tenant) ?? 1) - 1;
    if (left > 0) this.perTenant.set(entry.tenant, left);
    else this.perTenant.delete(entry.tenant);
  }
}
