// The CancelBus port for one process (embedded mode): publish calls every subscribed handler at once, in
// the caller's turn. Handles made with peer() share the subscribers, as processes share a Redis channel.
import type { AbortReason } from './outcomes.js';
import type { CancelBus } from './ports.js';

type Handler = (id: string, reason: AbortReason) => void;

export class MemoryCancelBus implements CancelBus {
  private readonly subscribers: Set<Handler>;
  /** This handle's own subscriptions (removed at close). */
  private readonly mine = new Set<Handler>();

  /**
   * `onError`: a handler that threw (reported, never thrown back at the publisher: one failing listener
   * must not keep the others from killing their jail). `sharing`: a handle whose subscribers this one shares.
   */
  constructor(
    private readonly onError: (error: unknown) => void = reportToStderr,
    sharing?: MemoryCancelBus,
  ) {
    this.subscribers = sharing?.subscribers ?? new Set();
  }

  peer(): MemoryCancelBus {
    return new MemoryCancelBus(this.onError, this);
  }

  async publish(id: string, reason: AbortReason): Promise<void> {
    for (const handler of [...this.subscribers]) {
      try {
        handler(id, reason);
      } catch (error) {
        this.onError(error);
      }
    }
  }

  async subscribe(handler: Handler): Promise<() => Promise<void>> {
    // Wrapped: the same function subscribed twice is two subscriptions, each removed by its own call.
    const entry: Handler = (id, reason) => handler(id, reason);
    this.subscribers.add(entry);
    this.mine.add(entry);
    return async () => {
      this.subscribers.delete(entry);
      this.mine.delete(entry);
    };
  }

  async close(): Promise<void> {
    for (const entry of this.mine) this.subscribers.delete(entry);
    this.mine.clear();
  }
}

function reportToStderr(error: unknown): void {
  process.stderr.write(`confine jobs: a cancel listener failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
}
