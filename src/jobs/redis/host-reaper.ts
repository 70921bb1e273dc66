// A worker's host queue outlives the worker: only that worker claims from it (its sessions' workspaces
// live there), so when it dies or stops nobody would meet the runs in it. Without this, a session run
// queued there before the worker went away waited until its record expired (a hang, not an answer), and a
// session run it was executing was never reported lost (nobody ran the stalled check on that queue).
// Every worker sweeps the host queues of known workers that are no longer alive: waiting entries are taken
// out and reported orphaned (the session's workspace is gone: the run can never run), runs the dead worker
// held are reported lost by BullMQ's stalled check once their locks lapse, and an emptied queue is deleted
// from Redis. Several workers sweeping at once is safe: every take is atomic and every report once.
import type { QueueLimits } from '../queue.js';
import type { RedisConnection } from './connection.js';
import { hostQueueName, RedisJobQueue } from './queue.js';
import type { RedisWorkerRegistry } from './workers.js';

export interface HostReaperOptions {
  /** This process's worker id (the claims it makes while sweeping are its own). */
  workerId: string;
  limits: QueueLimits;
  lockMs: number;
  secretKey?: Buffer;
  /** A run the dead worker held: finish it failed naming the worker (finishLostRuns). */
  onLost: (runId: string, workerId: string) => void;
  /** A run waiting for a worker that is gone: finish it failed (session_host_gone). */
  onOrphaned: (runId: string, workerId: string) => void;
  onError?: (error: Error) => void;
}

export class HostReaper {
  /** Host queues of dead workers being swept (kept open while their held runs' locks lapse). */
  private readonly sweeping = new Map<string, RedisJobQueue<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly conn: RedisConnection,
    private readonly workers: RedisWorkerRegistry,
    private readonly options: HostReaperOptions,
  ) {}

  /** One sweep; returns the worker ids whose host queues were emptied and deleted by it. */
  async sweep(): Promise<string[]> {
    const alive = new Set((await this.workers.alive()).map((w) => w.id));
    alive.add(this.options.workerId);
    const done: string[] = [];
    for (const id of await this.workers.known()) {
      if (alive.has(id)) {
        // Back (a restart with the same WORKER_ID): its own claims take over again.
        await this.release(id);
        continue;
      }
      if (await this.sweepOne(id)) done.push(id);
    }
    return done;
  }

  /** Sweeps every intervalMs until stop(); a sweep that fails is reported and the next one tries again. */
  start(intervalMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sweep()
        .then(() => undefined, (error: unknown) => this.options.onError?.(error instanceof Error ? error : new Error(String(error))))
        .finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    for (const id of [...this.sweeping.keys()]) await this.release(id);
  }

  private async sweepOne(deadId: string): Promise<boolean> {
    let queue = this.sweeping.get(deadId);
    if (!queue) {
      queue = new RedisJobQueue<unknown>(this.conn, this.options.limits, {
        name: hostQueueName(deadId),
        workerId: this.options.workerId,
        lockMs: this.options.lockMs,
        onLost: this.options.onLost,
        // A payload that does not open cannot run either: it is as orphaned as the rest.
        onUndeliverable: (runId) => this.options.onOrphaned(runId, deadId),
        ...(this.options.secretKey ? { secretKey: this.options.secretKey } : {}),
        ...(this.options.onError ? { onError: this.options.onError } : {}),
      });
      this.sweeping.set(deadId, queue);
    }
    // Claiming also starts this queue's stalled check, which reports the dead worker's held runs.
    for (let entry = await queue.tryClaim(); entry; entry = await queue.tryClaim()) {
      await queue.ack(entry.id);
      this.options.onOrphaned(entry.id, deadId);
    }
    if ((await queue.pendingCount()) > 0 || (await queue.size()) > 0) return false;
    this.sweeping.delete(deadId);
    // Several workers may find it empty in the same round: the one that forgets the id deletes the queue.
    if (!(await this.workers.forget(deadId))) {
      await queue.disconnect();
      return false;
    }
    await queue.destroy();
    return true;
  }

  private async release(id: string): Promise<void> {
    const queue = this.sweeping.get(id);
    this.sweeping.delete(id);
    await queue?.disconnect();
  }
}
