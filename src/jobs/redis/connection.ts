// The one place confine opens Redis connections (issue 12). Every key confine writes starts with the
// prefix (REDIS_KEY_PREFIX, default `confine`), so one Redis can serve several deployments and an operator
// can see at a glance what is confine's. ioredis' own keyPrefix is not used: BullMQ refuses it and takes
// its own `prefix` option instead, so keys are built with `key()`.
import { Redis } from 'ioredis';

export interface RedisConnection {
  /** Commands (never used for blocking calls or subscriptions). */
  readonly client: Redis;
  readonly url: string;
  readonly prefix: string;
  /** `<prefix>:<part>:<part>...` */
  key(...parts: string[]): string;
  /** A new connection to the same server (subscriptions, BullMQ workers); the caller closes it. */
  duplicate(): Redis;
  close(): Promise<void>;
}

/**
 * Opens a connection that survives a Redis restart: commands wait (queued in ioredis) while it reconnects
 * instead of failing after a few retries (`maxRetriesPerRequest: null`, what BullMQ requires), so a Redis
 * restart under load delays runs instead of failing them.
 */
export function openRedis(url: string, prefix: string): RedisConnection {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) throw new RangeError(`REDIS_KEY_PREFIX must be 1-64 of [A-Za-z0-9_.-], got ${JSON.stringify(prefix)}`);
  const client = newClient(url);
  return {
    client,
    url,
    prefix,
    key: (...parts) => [prefix, ...parts].join(':'),
    duplicate: () => newClient(url),
    async close() {
      await closeClient(client);
    },
  };
}

export function newClient(url: string): Redis {
  const client = new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    // Reconnect quickly at first, then at most every 2 s: a restarted Redis is picked up within seconds.
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000),
  });
  // Without a listener ioredis prints every failed reconnect attempt with its stack; one line per outage
  // (and one when it is back) says the same. Commands meanwhile wait; callers see their own errors.
  let down = false;
  client.on('error', (error: Error) => {
    if (down) return;
    down = true;
    process.stderr.write(`confine redis: connection to ${redactUrl(url)} lost (${error.message}); reconnecting\n`);
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    process.stderr.write(`confine redis: connection to ${redactUrl(url)} is back\n`);
  });
  return client;
}

/** The URL without its password, for logs. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not a URL ioredis would parse either; say nothing of it rather than echo a secret.
    return '(REDIS_URL)';
  }
}

/** QUIT when connected (pending replies delivered), otherwise drop the socket and stop reconnecting. */
export async function closeClient(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') {
    await client.quit();
    return;
  }
  client.disconnect(false);
}
