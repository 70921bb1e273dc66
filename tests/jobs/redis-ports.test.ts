// The Redis implementations of the RunStore and CancelBus ports pass the same conformance suites as the
// memory ones, against a real redis-server. Each store gets its own key prefix (an empty store); peer()
// opens new connections on the same prefix, as another API or worker process would.
import { afterAll, beforeAll } from 'vitest';
import { openRedis, type RedisConnection } from '../../src/jobs/redis/connection.js';
import { RedisCancelBus } from '../../src/jobs/redis/cancel-bus.js';
import { RedisRunStore } from '../../src/jobs/redis/run-store.js';
import type { CancelBus, RunStore } from '../../src/jobs/ports.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { cancelBusConformance } from './cancel-conformance.js';
import { runStoreConformance } from './run-store-conformance.js';

let redis: TestRedis;
let made = 0;
const connections: RedisConnection[] = [];
const busPrefix = new WeakMap<CancelBus, string>();
const storeConn = new WeakMap<RunStore, { prefix: string; bounds: ConstructorParameters<typeof RedisRunStore>[1] }>();

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis.stop();
});

function connect(prefix: string): RedisConnection {
  const conn = openRedis(redis.url, prefix);
  connections.push(conn);
  return conn;
}

async function closeConnections(): Promise<void> {
  for (const conn of connections.splice(0)) await conn.close();
}

runStoreConformance('redis', {
  create: async (bounds) => {
    const prefix = `runs${++made}`;
    const store = new RedisRunStore(connect(prefix), bounds);
    storeConn.set(store, { prefix, bounds });
    return store;
  },
  peer: async (store) => {
    const { prefix, bounds } = storeConn.get(store)!;
    return new RedisRunStore(connect(prefix), bounds);
  },
  dispose: closeConnections,
});

cancelBusConformance('redis', {
  create: async () => {
    const prefix = `bus${++made}`;
    const bus = new RedisCancelBus(connect(prefix));
    busPrefix.set(bus, prefix);
    return bus;
  },
  peer: async (bus) => new RedisCancelBus(connect(busPrefix.get(bus)!)),
  dispose: closeConnections,
});
