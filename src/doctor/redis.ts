// `confine doctor` with REDIS_URL set: the Redis that API nodes and workers share, checked by asking it.
// Each finding says what to change: a Redis without AOF loses accepted runs when it restarts, one that
// evicts keys loses queued runs under memory pressure, one without a password lets anyone who reaches it
// read run records and queue runs. The probe connection gives up quickly (no reconnect loop) so an
// unreachable Redis is a prompt FAIL, not a hang.
import { Redis } from 'ioredis';
import { redactUrl } from '../app/redis-url.js';
import type { Config } from '../config/settings.js';
import { RedisWorkerRegistry } from '../jobs/redis/workers.js';
import { compareVersions, type Check, type CheckStatus } from './checks.js';

const PROBE_TIMEOUT_MS = 3_000;
/** confine's own scripts use SET ... KEEPTTL. */
const MIN_REDIS = '6.0.0';
/** What BullMQ recommends (it warns below). */
const RECOMMENDED_REDIS = '6.2.0';

export async function redisChecks(config: Readonly<Pick<Config, 'redis'>>): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (name: string, status: CheckStatus, detail: string): void => void checks.push({ name, status, detail });
  const { url, keyPrefix } = config.redis;
  const shown = redactUrl(url);
  const client = new Redis(url, { lazyConnect: true, connectTimeout: PROBE_TIMEOUT_MS, commandTimeout: PROBE_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  // Connection errors arrive as the rejected connect() below; the event would otherwise print them again.
  client.on('error', () => undefined);
  try {
    try {
      await client.connect();
      await client.ping();
    } catch (error) {
      add('redis', 'fail', `${shown} unreachable (${error instanceof Error ? error.message : String(error)}): start redis-server there or fix REDIS_URL`);
      return checks;
    }
    const server = fields(await client.info('server'));
    const version = server.get('redis_version') ?? 'unknown';
    const tooOld = compareVersions(version, MIN_REDIS) < 0;
    const belowRecommended = compareVersions(version, RECOMMENDED_REDIS) < 0;
    add('redis', tooOld ? 'fail' : belowRecommended ? 'warn' : 'ok', `${shown}: Redis ${version}${tooOld ? `; confine needs ${MIN_REDIS} or later` : belowRecommended ? `; BullMQ recommends ${RECOMMENDED_REDIS} or later` : ''}`);

    add(...(await persistence(client)));
    add(...eviction(fields(await client.info('memory'))));
    add(...accessCheck(url));
    add(...(await workers(client, url, keyPrefix, config.redis.heartbeatMs)));
    return checks;
  } finally {
    client.disconnect(false);
  }
}

/** AOF on with fsync on every write: a Redis restart keeps every run it accepted. */
async function persistence(client: Redis): Promise<[string, CheckStatus, string]> {
  const info = fields(await client.info('persistence'));
  const advice = 'set `appendonly yes` and `appendfsync always` in redis.conf (now: redis-cli CONFIG SET appendonly yes; CONFIG SET appendfsync always)';
  if (info.get('aof_enabled') !== '1') return ['redis persistence', 'warn', `AOF is off: a Redis restart loses queued runs and run records; ${advice}`];
  // CONFIG may be refused (managed Redis, ACLs): then the fsync policy is told as unknown, not guessed.
  const fsync = await client.config('GET', 'appendfsync').then((answer) => String((answer as string[])[1] ?? 'unknown'), () => 'unknown (CONFIG GET refused)');
  if (fsync === 'always') return ['redis persistence', 'ok', 'AOF on, appendfsync always'];
  return ['redis persistence', 'warn', `AOF on, appendfsync ${fsync}: a crash can lose up to a second of accepted runs; ${advice}`];
}

/** Anything but noeviction lets Redis drop queue entries and run records when memory is full. */
function eviction(info: Map<string, string>): [string, CheckStatus, string] {
  const policy = info.get('maxmemory_policy') ?? 'unknown';
  if (policy === 'noeviction') return ['redis eviction', 'ok', 'maxmemory-policy noeviction (a full Redis refuses writes; it never drops runs)'];
  return ['redis eviction', 'warn', `maxmemory-policy ${policy}: under memory pressure Redis may drop queued runs and records; set \`maxmemory-policy noeviction\` in redis.conf (now: redis-cli CONFIG SET maxmemory-policy noeviction)`];
}

/** Whoever reaches Redis can read run records and queue runs: it wants a password, and TLS off loopback. */
export function accessCheck(url: string): [string, CheckStatus, string] {
  const parsed = new URL(url);
  const loopback = ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(parsed.hostname);
  const password = parsed.password !== '';
  if (!password && !loopback) return ['redis access', 'warn', `no password in REDIS_URL for ${parsed.hostname}: anyone who reaches it can read run records and queue runs; set requirepass (or an ACL user) and put it in REDIS_URL, and firewall the port to API and worker hosts`];
  if (parsed.protocol === 'redis:' && !loopback) return ['redis access', 'warn', `plain TCP to ${parsed.hostname}: records and the password cross the network in clear; use rediss:// (Redis TLS) or a private network`];
  return ['redis access', 'ok', `${password ? 'password set' : 'no password (loopback only)'}; ${parsed.protocol === 'rediss:' ? 'TLS' : 'plain TCP'}`];
}

/** The workers heartbeating under this prefix. */
async function workers(client: Redis, url: string, prefix: string, heartbeatMs: number): Promise<[string, CheckStatus, string]> {
  const connection = {
    client,
    url,
    prefix,
    key: (...parts: string[]) => [prefix, ...parts].join(':'),
    duplicate: (): Redis => client.duplicate(),
    close: async (): Promise<void> => {},
  };
  const alive = await new RedisWorkerRegistry(connection, { heartbeatMs }).alive();
  if (alive.length === 0) return ['workers', 'warn', `none alive under prefix "${prefix}": runs queue until one starts (\`confine worker\` with the same REDIS_URL and REDIS_KEY_PREFIX)`];
  return ['workers', 'ok', `${alive.length} alive: ${alive.map((w) => `${w.id} on ${w.host} (${w.busy}/${w.slots} busy)`).join(', ')}`];
}

function fields(info: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of info.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) map.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  return map;
}
