// What a worker claims from: its own host queue (runs of sessions whose workspace lives on this worker)
// first, then the shared queue. One JobQueue, so the worker pool needs no idea that there are two: enqueue,
// bounds and sizes are the shared queue's; claim takes from whichever has work; ack and remove go to the
// queue that holds the id.
import type { EnqueueResult, JobQueue, QueueEntry } from '../queue.js';
import type { RedisJobQueue } from './queue.js';

export class ClaimGroup<T> implements JobQueue<T> {
  private readonly all: readonly RedisJobQueue<T>[];
  private readonly holder = new Map<string, RedisJobQueue<T>>();

  /** `first` is looked at before `shared` on every claim (a session's runs are not kept waiting). */
  constructor(
    private readonly first: RedisJobQueue<T>,
    private readonly shared: RedisJobQueue<T>,
  ) {
    this.all = [first, shared];
  }

  get limits(): JobQueue<T>['limits'] {
    return this.shared.limits;
  }

  enqueue(entry: QueueEntry<T>): Promise<EnqueueResult> {
    return this.shared.enqueue(entry);
  }

  async claim(signal?: AbortSignal): Promise<QueueEntry<T> | undefined> {
    for (;;) {
      if (signal?.aborted) return undefined;
      const seen = this.all.map((queue) => queue.generation);
      for (const queue of this.all) {
        const entry = await queue.tryClaim();
        if (entry) {
          this.holder.set(entry.id, queue);
          return entry;
        }
      }
      if (this.all.every((queue) => queue.isClosed)) return undefined;
      // Wait on both; whichever wakes first ends the other's wait.
      const stop = new AbortController();
      const either = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
      await Promise.race(this.all.map((queue, i) => queue.waitForWork(seen[i]!, either)));
      stop.abort();
    }
  }

  async ack(id: string): Promise<void> {
    const queue = this.holder.get(id);
    this.holder.delete(id);
    await queue?.ack(id);
  }

  async remove(id: string): Promise<boolean> {
    for (const queue of this.all) if (await queue.remove(id)) return true;
    return false;
  }

  async size(): Promise<number> {
    return (await this.first.size()) + (await this.shared.size());
  }

  async sizeFor(tenant: string): Promise<number> {
    return (await this.first.sizeFor(tenant)) + (await this.shared.sizeFor(tenant));
  }

  async bytes(): Promise<number> {
    return (await this.first.bytes()) + (await this.shared.bytes());
  }

  async bytesFor(tenant: string): Promise<number> {
    return (await this.first.bytesFor(tenant)) + (await this.shared.bytesFor(tenant));
  }

  async close(): Promise<void> {
    for (const queue of this.all) await queue.close();
  }

  async drain(): Promise<QueueEntry<T>[]> {
    return [...(await this.first.drain()), ...(await this.shared.drain())];
  }

  async disconnect(): Promise<void> {
    for (const queue of this.all) await queue.disconnect();
  }
}
