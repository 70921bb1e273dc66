// The JobQueue on Redis (issue 12): BullMQ holds the entries, queue-scripts.ts the bounds and fair-queueing
// priorities. Passes tests/jobs/queue-conformance.ts like the memory queue.
//
// Claiming is manual (`Worker.getNextJob(token)`, never a BullMQ processor): the job service decides when
// a slot is free. A claimed entry stays in BullMQ's active list under a lock this process renews until
// ack (moveToCompleted, removed at once: the payload, credentials included, leaves Redis with the run).
// If the claiming process dies, the lock lapses and BullMQ's stalled check (maxStalledCount 0, run by every
// claiming process) finds it: the process whose check found it reports it through `onLost` at once, and the
// job, marked failed-on-next-claim, is dropped by whichever claimer meets it (TAKE_LOST keeps the report
// to one). It never runs again: at-most-once execution of tenant code (a half-applied run is not replayed).
import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { lostWorkerMessage } from '../lost.js';
import type { EnqueueResult, JobQueue, QueueEntry, QueueLimits } from '../queue.js';
import type { RedisConnection } from './connection.js';
import { closeClient } from './connection.js';
import { RELEASE, RESERVE, TAKE_LOST } from './queue-scripts.js';
import { seal, SealError, unseal } from './seal.js';
import type { RedisQueueOptions } from './queue-options.js';
import { Wakeup } from './wakeup.js';

export { hostQueueName, SHARED_QUEUE_NAME, type RedisQueueOptions } from './queue-options.js';

/** What BullMQ stores per entry: plain JSON; the payload in clear, or sealed when a key is set. */
interface JobData<T> {
  tenant: string;
  payload?: T;
  sealed?: string;
  bytes?: number;
}

interface Held<T> {
  job: Job<JobData<T>>;
  token: string;
}

export class RedisJobQueue<T> implements JobQueue<T> {
  private readonly queue: Queue<JobData<T>>;
  private worker: Worker<JobData<T>> | undefined;
  private subscriber: Promise<Redis> | undefined;
  private readonly wakeup = new Wakeup();
  private readonly held = new Map<string, Held<T>>();
  private renewTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private disconnected = false;
  private readonly keys: string[];
  private readonly channel: string;

  constructor(
    private readonly conn: RedisConnection,
    readonly limits: Readonly<QueueLimits>,
    private readonly options: RedisQueueOptions,
  ) {
    if (!(limits.capacity >= 1 && limits.perTenant >= 1)) throw new RangeError('queue limits must be at least 1');
    if (!((limits.maxBytes ?? 1) >= 1 && (limits.perTenantBytes ?? 1) >= 1)) throw new RangeError('queue byte limits must be at least 1');
    if (!/^[A-Za-z0-9_.-]+$/.test(options.name)) throw new RangeError(`queue name ${JSON.stringify(options.name)} must be [A-Za-z0-9_.-]`);
    const base = conn.key('cq', options.name);
    this.keys = ['state', 'tn', 'tb', 'tl', 'e', 'c'].map((part) => `${base}:${part}`);
    this.channel = `${base}:added`;
    this.queue = new Queue<JobData<T>>(options.name, {
      connection: conn.client,
      prefix: conn.prefix,
      // The event stream is bounded; confine reads nothing from it.
      streams: { events: { maxLen: 100 } },
    });
  }

  get name(): string {
    return this.options.name;
  }

  async enqueue(entry: QueueEntry<T>): Promise<EnqueueResult> {
    if (this.closed || this.disconnected) return { accepted: false, reason: 'closed' };
    const bytes = entryBytes(entry);
    let [code, value] = (await this.conn.client.eval(RESERVE, this.keys.length, ...this.keys, entry.id, entry.tenant, bytes,
      this.limits.capacity, this.limits.perTenant, this.limits.maxBytes ?? -1, this.limits.perTenantBytes ?? -1)) as [number, number | string];
    if (code === -1) {
      // A reply lost in a reconnect (Redis restarting): ioredis sends the script again and it meets this very
      // entry's reservation. Ids are 128 random bits, so a waiting reservation of this id for this tenant is
      // ours: go on with its priority (answering "duplicate" was a 500, and left the room reserved forever).
      const own = await this.conn.client.hget(this.keys[4]!, entry.id);
      const reserved = own === null ? undefined : (JSON.parse(own) as { t?: unknown; p?: unknown });
      if (reserved?.t !== entry.tenant || typeof reserved.p !== 'number') throw new Error(`queue: duplicate id ${entry.id}`);
      [code, value] = [1, reserved.p];
    }
    if (code === 0) return { accepted: false, reason: value === 'tenant' ? 'tenant' : 'service' };
    const key = this.options.secretKey;
    const data: JobData<T> = {
      tenant: entry.tenant,
      ...(key ? { sealed: seal(key, entry.id, entry.payload) } : { payload: entry.payload }),
      ...(entry.bytes === undefined ? {} : { bytes: entry.bytes }),
    };
    try {
      await this.queue.add('run', data, { jobId: entry.id, priority: Number(value), removeOnComplete: true, removeOnFail: true });
    } catch (error) {
      // The room was reserved for an entry that never arrived: give it back before reporting the failure.
      await this.release(entry.id, '');
      throw error;
    }
    this.wakeup.notify();
    await this.conn.client.publish(this.channel, entry.id);
    return { accepted: true };
  }

  async claim(signal?: AbortSignal): Promise<QueueEntry<T> | undefined> {
    await this.subscribe();
    for (;;) {
      if (signal?.aborted || this.disconnected) return undefined;
      const seen = this.wakeup.seen;
      const entry = await this.tryClaim();
      if (entry) return entry;
      if (this.closed) return undefined;
      await this.wakeup.wait(seen, this.options.pollMs ?? 1_000, signal);
    }
  }

  /** Claims the next entry if one waits; never waits. (ClaimGroup claims across queues with it.) */
  async tryClaim(): Promise<QueueEntry<T> | undefined> {
    const worker = await this.claimer();
    for (;;) {
      if (this.disconnected) return undefined;
      const token = `${this.options.workerId}:${randomUUID()}`;
      const job = (await worker.getNextJob(token, { block: false })) as Job<JobData<T>> | undefined;
      if (!job?.id) return undefined;
      if (job.deferredFailure && !(await this.neverHandedOut(job.id))) {
        await this.reportLost(job, token);
        continue;
      }
      if ((await this.release(job.id, this.options.workerId)) === 0) {
        // Removed (cancelled) while this claim moved it: the canceller has it; finish it unrun.
        await job.moveToCompleted(null, token, false);
        continue;
      }
      let entry: QueueEntry<T>;
      try {
        entry = this.toEntry(job);
      } catch (error) {
        if (!(error instanceof SealError)) throw error;
        await this.conn.client.hdel(this.keys[5]!, job.id);
        await job.moveToFailed(error, token, false);
        this.options.onUndeliverable?.(job.id, error.message);
        continue;
      }
      this.held.set(job.id, { job, token });
      this.startRenewing();
      return entry;
    }
  }

  /** Resolves when an entry may have arrived (a notice after `seen`), on abort, or after pollMs. */
  async waitForWork(seen: number, signal?: AbortSignal): Promise<void> {
    await this.subscribe();
    await this.wakeup.wait(seen, this.options.pollMs ?? 1_000, signal);
  }

  get generation(): number {
    return this.wakeup.seen;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async ack(id: string): Promise<void> {
    const held = this.held.get(id);
    if (!held) return;
    this.held.delete(id);
    try {
      await held.job.moveToCompleted(null, held.token, false);
    } catch (error) {
      // The lock lapsed (this process stalled past RUN_LOCK_SECONDS): BullMQ already took the job back
      // and the run is reported lost (its claim record stays for that). Anything else is a real failure.
      if ((await this.conn.client.exists(`${this.conn.prefix}:${this.options.name}:${id}`)) === 1 && (await held.job.getState()) === 'active') throw error;
      return;
    }
    // Only once the job was still ours: a lapsed claim keeps its record so it is reported exactly once.
    await this.conn.client.hdel(this.keys[5]!, id);
  }

  async remove(id: string): Promise<boolean> {
    if ((await this.release(id, '')) === 0) return false;
    // A claimer racing this sees its release fail and finishes the job unrun; otherwise it is removed here.
    await this.queue.remove(id);
    return true;
  }

  async size(): Promise<number> {
    return Number((await this.conn.client.hget(this.keys[0]!, 'n')) ?? 0);
  }

  async sizeFor(tenant: string): Promise<number> {
    return Number((await this.conn.client.hget(this.keys[1]!, tenant)) ?? 0);
  }

  async bytes(): Promise<number> {
    return Number((await this.conn.client.hget(this.keys[0]!, 'b')) ?? 0);
  }

  async bytesFor(tenant: string): Promise<number> {
    return Number((await this.conn.client.hget(this.keys[2]!, tenant)) ?? 0);
  }

  /** Stops this process accepting (other API nodes keep theirs); waiting claimers here give up once empty. */
  async close(): Promise<void> {
    this.closed = true;
    this.wakeup.notify();
  }

  /** Removes and returns every entry waiting in this queue (all processes' entries: the queue is shared). */
  async drain(): Promise<QueueEntry<T>[]> {
    const out: QueueEntry<T>[] = [];
    for (const id of await this.conn.client.hkeys(this.keys[4]!)) {
      const job = (await this.queue.getJob(id)) as Job<JobData<T>> | undefined;
      if (!(await this.remove(id)) || !job) continue;
      out.push(this.toEntry(job));
    }
    return out;
  }

  /** Jobs BullMQ still holds in any live state (waiting, claimed, or back from a stalled claim). */
  async pendingCount(): Promise<number> {
    const counts = await this.queue.getJobCounts('active', 'wait', 'prioritized', 'delayed');
    return Object.values(counts).reduce((sum, n) => sum + n, 0);
  }

  /** Deletes the queue from Redis, its bookkeeping included (a dead worker's emptied host queue), then disconnects. */
  async destroy(): Promise<void> {
    await this.queue.obliterate({ force: true });
    await this.conn.client.del(...this.keys);
    await this.disconnect();
  }

  /** Run ids this process holds claimed (not yet acked). */
  claimed(): string[] {
    return [...this.held.keys()];
  }

  /**
   * Lets go of Redis: stops renewing locks (held entries lapse and are reported lost by another claimer,
   * as if this process had died), closes the worker and the subscriber. The shared client is the caller's.
   */
  async disconnect(): Promise<void> {
    this.disconnected = true;
    this.closed = true;
    this.wakeup.notify();
    clearInterval(this.renewTimer);
    this.held.clear();
    await this.worker?.close(true);
    if (this.subscriber) await closeClient(await this.subscriber);
    await this.queue.close();
  }

  /** The entry as it was enqueued (payload unsealed); SealError when it does not open. */
  private toEntry(job: Job<JobData<T>>): QueueEntry<T> {
    const { tenant, sealed, bytes } = job.data;
    const id = job.id!;
    let payload: T;
    if (sealed !== undefined) {
      if (!this.options.secretKey) throw new SealError('the payload is sealed and this worker has no QUEUE_SECRET_KEY');
      payload = unseal<T>(this.options.secretKey, id, sealed);
    } else {
      payload = job.data.payload as T;
    }
    return { id, tenant, payload, ...(bytes === undefined ? {} : { bytes }) };
  }

  private async release(id: string, claimer: string): Promise<number> {
    return Number(await this.conn.client.eval(RELEASE, this.keys.length, ...this.keys, id, claimer));
  }

  /**
   * A stalled job that no claimer ever recorded while its room is still reserved was never handed to an
   * executor (a claim is recorded before its entry is returned): its claim's reply was lost while Redis
   * restarted (ioredis re-sent the claim, which took the next job instead). Running it now is still at most
   * once; failing it as lost ("worker unknown") lost an accepted run to a Redis restart.
   */
  private async neverHandedOut(id: string): Promise<boolean> {
    const [claimed, reserved] = await Promise.all([this.conn.client.hexists(this.keys[5]!, id), this.conn.client.hexists(this.keys[4]!, id)]);
    return claimed === 0 && reserved === 1;
  }

  /** Met at claim time: the stalled job comes back failed-on-claim; drop it, report it unless reported. */
  private async reportLost(job: Job<JobData<T>>, token: string): Promise<void> {
    const id = job.id!;
    const claimer = String(await this.conn.client.eval(TAKE_LOST, 1, this.keys[5]!, id, '1'));
    await job.moveToFailed(new Error(lostWorkerMessage(claimer === '' ? 'unknown' : claimer)), token, false);
    // '' = already reported by the stalled check below; 'unknown' = the claimer died before recording itself.
    if (claimer !== '') this.options.onLost?.(id, claimer);
  }

  /**
   * The stalled check in this process found `id`'s lock lapsed: report it now, even when every slot here
   * is busy and nobody would claim the stalled job for a while. Once across processes (TAKE_LOST marks it).
   */
  private async stalled(id: string): Promise<void> {
    const claimer = String(await this.conn.client.eval(TAKE_LOST, 1, this.keys[5]!, id, '0'));
    if (claimer !== '') this.options.onLost?.(id, claimer);
  }

  private subscribe(): Promise<Redis> {
    this.subscriber ??= (async () => {
      const subscriber = this.conn.duplicate();
      subscriber.on('message', () => this.wakeup.notify());
      await subscriber.subscribe(this.channel);
      return subscriber;
    })();
    return this.subscriber;
  }

  private async claimer(): Promise<Worker<JobData<T>>> {
    if (this.worker) return this.worker;
    this.worker = new Worker<JobData<T>>(this.options.name, null, {
      connection: this.conn.client,
      prefix: this.conn.prefix,
      autorun: false,
      lockDuration: this.options.lockMs,
      // A dead claimer's run is reported within about lockMs + stalledInterval (1.5 x RUN_LOCK_SECONDS).
      stalledInterval: this.options.stalledIntervalMs ?? Math.max(100, Math.floor(this.options.lockMs / 2)),
      maxStalledCount: 0,
    });
    this.worker.on('error', (error) => this.options.onError?.(error));
    this.worker.on('stalled', (id: string) => {
      this.stalled(id).catch((error: unknown) => this.options.onError?.(error instanceof Error ? error : new Error(String(error))));
    });
    await this.worker.startStalledCheckTimer();
    return this.worker;
  }

  private startRenewing(): void {
    if (this.renewTimer) return;
    this.renewTimer = setInterval(() => {
      const held = [...this.held.entries()];
      if (held.length === 0) return;
      this.worker!.extendJobLocks(held.map(([id]) => id), held.map(([, h]) => h.token), this.options.lockMs)
        .then((failed) => {
          for (const id of failed) {
            if (!this.held.delete(id)) continue;
            this.options.onLockLost?.(id);
          }
        })
        .catch((error: unknown) => this.options.onError?.(error instanceof Error ? error : new Error(String(error))));
    }, Math.max(100, Math.floor(this.options.lockMs / 3)));
    this.renewTimer.unref();
  }
}

function entryBytes(entry: QueueEntry<unknown>): number {
  const bytes = entry.bytes ?? 0;
  if (!(Number.isFinite(bytes) && bytes >= 0)) throw new RangeError(`queue: invalid entry size ${bytes}`);
  return bytes;
}
