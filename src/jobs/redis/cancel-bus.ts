// The CancelBus port on Redis pub/sub (issue 12): a cancel or a deletion on any API node reaches the worker
// running the jail, which kills it at once. Pub/sub is fire-and-forget: a message published while a worker
// is disconnected (Redis restarting) does not reach it. The record is the authority, not the message: the
// cancel has already finished the record `cancelled` in the RunStore (first final wins), so a worker that
// missed the message finds its own result refused and only its jail runs on until its time limit.
import type { Redis } from 'ioredis';
import type { AbortReason } from '../outcomes.js';
import type { CancelBus } from '../ports.js';
import { closeClient, type RedisConnection } from './connection.js';

type Handler = (id: string, reason: AbortReason) => void;

const REASONS: ReadonlySet<string> = new Set<AbortReason>(['cancelled', 'timeout', 'shutdown']);
/** Run ids are 32 hex characters today; anything far longer on the channel is not ours. */
const MAX_MESSAGE_BYTES = 512;

export class RedisCancelBus implements CancelBus {
  private readonly handlers = new Set<Handler>();
  private subscriber: Promise<Redis> | undefined;
  private readonly channel: string;

  /** `onError`: a handler that threw or a malformed message (reported; never stops delivery to others). */
  constructor(
    private readonly conn: RedisConnection,
    private readonly onError: (error: unknown) => void = reportToStderr,
  ) {
    this.channel = conn.key('cancel');
  }

  async publish(id: string, reason: AbortReason): Promise<void> {
    await this.conn.client.publish(this.channel, JSON.stringify({ id, reason }));
  }

  async subscribe(handler: Handler): Promise<() => Promise<void>> {
    // Wrapped: the same function subscribed twice is two subscriptions, each removed by its own call.
    const entry: Handler = (id, reason) => handler(id, reason);
    this.handlers.add(entry);
    await this.listen();
    return async () => {
      this.handlers.delete(entry);
    };
  }

  async close(): Promise<void> {
    this.handlers.clear();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber) await closeClient(await subscriber);
  }

  private listen(): Promise<Redis> {
    this.subscriber ??= (async () => {
      const subscriber = this.conn.duplicate();
      subscriber.on('message', (_channel: string, message: string) => this.deliver(message));
      await subscriber.subscribe(this.channel);
      return subscriber;
    })();
    return this.subscriber;
  }

  private deliver(message: string): void {
    const parsed = parse(message);
    if (!parsed) {
      this.onError(new Error(`cancel bus: ignored a malformed message on ${this.channel}`));
      return;
    }
    for (const handler of [...this.handlers]) {
      try {
        handler(parsed.id, parsed.reason);
      } catch (error) {
        this.onError(error);
      }
    }
  }
}

function parse(message: string): { id: string; reason: AbortReason } | undefined {
  if (message.length > MAX_MESSAGE_BYTES) return undefined;
  try {
    const value: unknown = JSON.parse(message);
    if (typeof value !== 'object' || value === null) return undefined;
    const { id, reason } = value as Record<string, unknown>;
    if (typeof id !== 'string' || typeof reason !== 'string' || !REASONS.has(reason)) return undefined;
    return { id, reason: reason as AbortReason };
  } catch {
    // Not JSON: someone else's publish on our channel; reported by the caller as malformed.
    return undefined;
  }
}

function reportToStderr(error: unknown): void {
  process.stderr.write(`confine jobs: a cancel listener failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
}
