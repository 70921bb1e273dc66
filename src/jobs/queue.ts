// The queue behind the job service, as a backend interface: the in-memory adapter below is the default
// (one process); a Redis/BullMQ adapter for many hosts implements the same contract and must pass the
// same conformance suite (tests/jobs/queue-conformance.ts). Every bound (entries and bytes, service-wide
// and per tenant) is checked atomically inside enqueue, so a burst can never push the queue past them
// (unbounded memory growth is a DoS: a count bound alone let a few large payloads pin gigabytes).

export interface QueueEntry<T> {
  /** The run id (unguessable, unique). */
  id: string;
  tenant: string;
  /** Plain, serializable data (a Redis adapter stores it as JSON). */
  payload: T;
  /** The payload's size as the submitter measured it (counted against the byte budgets); default 0. */
  bytes?: number;
}

export interface QueueLimits {
  /** Entries waiting, all tenants together. */
  capacity: number;
  /** Entries one tenant may have waiting, so one tenant cannot take the whole queue. */
  perTenant: number;
  /** Bytes of payloads waiting, all tenants together (default: unbounded). */
  maxBytes?: number;
  /** Bytes of payloads one tenant may have waiting (default: unbounded). */
  perTenantBytes?: number;
}

export type EnqueueResult = { accepted: true } | { accepted: false; reason: 'service' | 'tenant' | 'closed' };

export interface JobQueue<T> {
  readonly limits: Readonly<QueueLimits>;
  /** Adds the entry if both bounds allow it and the queue is open; never throws for a full queue. */
  enqueue(entry: QueueEntry<T>): Promise<EnqueueResult>;
  /**
   * Takes the next waiting entry, tenants in turn (each tenant's own entries oldest first; a tenant with a
   * backlog gets one entry per round, like everyone else), waiting for one if the queue is empty. Without
   * turns, one tenant's 16 queued runs delayed every other tenant's next run by all of them (soak test).
   * Resolves undefined once the
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
  /** Bytes of waiting payloads, all tenants together. */
  bytes(): Promise<number>;
  /** Bytes of one tenant's waiting payloads. */
  bytesFor(tenant: string): Promise<number>;
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
  /** Each tenant's waiting entries, oldest first. */
  private readonly byTenant = new Map<string, Map<string, QueueEntry<T>>>();
  /** Tenants with waiting entries, in the order their turn comes (a served tenant goes to the back). */
  private readonly turns: string[] = [];
  private readonly perTenant = new Map<string, number>();
  private readonly perTenantBytes = new Map<string, number>();
  private totalBytes = 0;
  private readonly claimers: Claimer<T>[] = [];
  private closed = false;

  constructor(readonly limits: Readonly<QueueLimits>) {
    if (!(limits.capacity >= 1 && limits.perTenant >= 1)) throw new RangeError('queue limits must be at least 1');
    if (!((limits.maxBytes ?? 1) >= 1 && (limits.perTenantBytes ?? 1) >= 1)) throw new RangeError('queue byte limits must be at least 1');
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
    const bytes = entryBytes(entry);
    if (this.waiting.size >= this.limits.capacity) return { accepted: false, reason: 'service' };
    if (this.totalBytes + bytes > (this.limits.maxBytes ?? Infinity)) return { accepted: false, reason: 'service' };
    const mine = this.perTenant.get(entry.tenant) ?? 0;
    if (mine >= this.limits.perTenant) return { accepted: false, reason: 'tenant' };
    const myBytes = this.perTenantBytes.get(entry.tenant) ?? 0;
    if (myBytes + bytes > (this.limits.perTenantBytes ?? Infinity)) return { accepted: false, reason: 'tenant' };
    this.waiting.set(entry.id, entry);
    const own = this.byTenant.get(entry.tenant);
    if (own) own.set(entry.id, entry);
    else {
      this.byTenant.set(entry.tenant, new Map([[entry.id, entry]]));
      this.turns.push(entry.tenant);
    }
    this.perTenant.set(entry.tenant, mine + 1);
    this.perTenantBytes.set(entry.tenant, myBytes + bytes);
    this.totalBytes += bytes;
    return { accepted: true };
  }

  claim(signal?: AbortSignal): Promise<QueueEntry<T> | undefined> {
    const next = this.takeNext();
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

  async bytes(): Promise<number> {
    return this.totalBytes;
  }

  async bytesFor(tenant: string): Promise<number> {
    return this.perTenantBytes.get(tenant) ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    // Waiting claimers are only waiting because the queue is empty: closed and empty means done.
    for (const claimer of this.claimers.splice(0)) claimer.resolve(undefined);
  }

  async drain(): Promise<QueueEntry<T>[]> {
    const entries = [...this.waiting.values()];
    this.waiting.clear();
    this.byTenant.clear();
    this.turns.splice(0);
    this.perTenant.clear();
    this.perTenantBytes.clear();
    this.totalBytes = 0;
    return entries;
  }

  private takeNext(): QueueEntry<T> | undefined {
    const tenant = this.turns[0];
    if (tenant === undefined) return undefined;
    const entry = this.byTenant.get(tenant)!.values().next().value!;
    this.forget(entry);
    // Still waiting: back of the line. (forget took the tenant out of the turns if it has nothing left.)
    if (this.byTenant.has(tenant)) this.turns.push(this.turns.shift()!);
    return entry;
  }

  private forget(entry: QueueEntry<T>): void {
    this.waiting.delete(entry.id);
    const own = this.byTenant.get(entry.tenant);
    own?.delete(entry.id);
    if (own?.size === 0) {
      this.byTenant.delete(entry.tenant);
      this.turns.splice(this.turns.indexOf(entry.tenant), 1);
    }
    const left = (this.perTenant.get(entry.tenant) ?? 1) - 1;
    if (left > 0) this.perTenant.set(entry.tenant, left);
    else this.perTenant.delete(entry.tenant);
    const bytes = entryBytes(entry);
    this.totalBytes -= bytes;
    const leftBytes = (this.perTenantBytes.get(entry.tenant) ?? bytes) - bytes;
    if (left > 0) this.perTenantBytes.set(entry.tenant, leftBytes);
    else this.perTenantBytes.delete(entry.tenant);
  }
}

function entryBytes(entry: QueueEntry<unknown>): number {
  const bytes = entry.bytes ?? 0;
  if (!(Number.isFinite(bytes) && bytes >= 0)) throw new RangeError(`queue: invalid entry size ${bytes}`);
  return bytes;
}
