// Payloads sealed under QUEUE_SECRET_KEY: a credential in a queued run is never in Redis in clear, is gone
// from Redis once the run is acked, and a worker with another key never runs the entry (reported once).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedis, type RedisConnection } from '../../src/jobs/redis/connection.js';
import { RedisJobQueue } from '../../src/jobs/redis/queue.js';
import { parseSecretKey, seal, SealError, unseal } from '../../src/jobs/redis/seal.js';
import { startRedis, type TestRedis } from '../support/redis.js';

type Payload = { credentials: { secret_access_key: string } };
const SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';
const LIMITS = { capacity: 10, perTenant: 10 };

let redis: TestRedis;
let conn: RedisConnection;
let made = 0;
const queues: RedisJobQueue<Payload>[] = [];

beforeAll(async () => {
  redis = await startRedis();
  conn = openRedis(redis.url, 'confine-seal');
});

afterAll(async () => {
  for (const queue of queues) await queue.disconnect();
  await conn.close();
  await redis.stop();
});

function queue(name: string, workerId: string, secretKey: Buffer, onUndeliverable?: (id: string, message: string) => void): RedisJobQueue<Payload> {
  const made = new RedisJobQueue<Payload>(conn, LIMITS, { name, workerId, lockMs: 5_000, pollMs: 100, secretKey, ...(onUndeliverable ? { onUndeliverable } : {}) });
  queues.push(made);
  return made;
}

/** Every string value under the prefix (strings, hashes, lists, sets, zsets, streams), as one text. */
async function everythingInRedis(): Promise<string> {
  const out: string[] = [];
  for (const key of await conn.client.keys('confine-seal:*')) {
    const type = await conn.client.type(key);
    if (type === 'string') out.push((await conn.client.get(key)) ?? '');
    else if (type === 'hash') out.push(JSON.stringify(await conn.client.hgetall(key)));
    else if (type === 'list') out.push(JSON.stringify(await conn.client.lrange(key, '0', '-1')));
    else if (type === 'set') out.push(JSON.stringify(await conn.client.smembers(key)));
    else if (type === 'zset') out.push(JSON.stringify(await conn.client.zrange(key, '0', '-1')));
    else if (type === 'stream') out.push(JSON.stringify(await conn.client.xrange(key, '-', '+')));
  }
  return out.join('\n');
}

describe('sealed queue payloads', () => {
  it('queuedCredential_isNeverInRedisInClear_andGoneOnceAcked', async () => {
    const key = randomBytes(32);
    const runs = queue(`sealed${++made}`, 'w1', key);
    await runs.enqueue({ id: 'run-with-creds', tenant: 't', payload: { credentials: { secret_access_key: SECRET } } });
    const stored = await everythingInRedis();
    expect(stored).toContain('run-with-creds');
    expect(stored).not.toContain(SECRET);
    expect(stored).not.toContain('secret_access_key');
    const claimed = await runs.claim();
    expect(claimed?.payload.credentials.secret_access_key).toBe(SECRET);
    await runs.ack('run-with-creds');
    expect(await everythingInRedis()).not.toContain('wJalrX');
    expect(await conn.client.exists(`confine-seal:${runs.name}:run-with-creds`)).toBe(0);
  });

  it('claim_withAnotherKey_reportsTheEntryUndeliverableOnceAndNeverReturnsIt', async () => {
    const name = `sealed${++made}`;
    const api = queue(name, 'api', randomBytes(32));
    const reported: [string, string][] = [];
    const worker = queue(name, 'w-other-key', randomBytes(32), (id, message) => reported.push([id, message]));
    await api.enqueue({ id: 'unreadable', tenant: 't', payload: { credentials: { secret_access_key: SECRET } } });
    await api.enqueue({ id: 'readable-later', tenant: 't', payload: { credentials: { secret_access_key: 'x' } } });
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 1_000);
    // Neither opens under the worker's key: both are reported, neither is returned.
    expect(await worker.claim(stop.signal)).toBeUndefined();
    expect(reported.map(([id]) => id)).toEqual(['unreadable', 'readable-later']);
    expect(reported[0]![1]).toMatch(/QUEUE_SECRET_KEY differs/);
    expect(await api.size()).toBe(0);
    expect(worker.claimed()).toEqual([]);
  });

  it('unseal_alteredOrOnAnotherRunOrAnotherKey_isRefused', () => {
    const key = randomBytes(32);
    const sealed = seal(key, 'run-a', { secret: SECRET });
    expect(unseal(key, 'run-a', sealed)).toEqual({ secret: SECRET });
    expect(sealed).not.toContain(SECRET);
    expect(() => unseal(key, 'run-b', sealed)).toThrow(SealError);
    expect(() => unseal(randomBytes(32), 'run-a', sealed)).toThrow(SealError);
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0] = body[0]! ^ 1;
    expect(() => unseal(key, 'run-a', [...parts.slice(0, 3), body.toString('base64url')].join('.'))).toThrow(SealError);
    expect(() => unseal(key, 'run-a', 'v0.a.b.c')).toThrow(SealError);
    expect(() => parseSecretKey(randomBytes(16).toString('base64'))).toThrow(/32 bytes/);
    expect(parseSecretKey(key.toString('base64')).equals(key)).toBe(true);
  });
});
