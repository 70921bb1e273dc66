// The shared ports of many hosts (issue 12) from the configuration table: one place maps REDIS_URL,
// REDIS_KEY_PREFIX, WORKER_ID, QUEUE_SECRET_KEY, RUN_LOCK_SECONDS, WORKER_HEARTBEAT_SECONDS and the queue
// and record bounds onto openRedisPorts, so API nodes and workers of one deployment agree on them.
import type { Config } from '../config/settings.js';
import { openRedisPorts, type RedisPorts, type RedisPortsOptions } from '../jobs/redis/open-ports.js';
import { parseSecretKey } from '../jobs/redis/seal.js';

export type ClusterPortsHooks = Pick<RedisPortsOptions, 'sessionHost' | 'onLost' | 'onLockLost' | 'onUndeliverable' | 'onError' | 'reap'>;

/**
 * An API node claims nothing, yet the ports open a host queue under the id they are given: one fixed name
 * for every API node, so restarting API nodes (default ids `<hostname>-<pid>`) does not leave one more
 * queue's keys in Redis each time.
 */
export const API_NODE_QUEUE_ID = 'api-nodes';

export function openClusterPorts(config: Readonly<Config>, hooks: ClusterPortsHooks, role: 'api' | 'worker' = 'worker'): RedisPorts {
  const { redis } = config;
  return openRedisPorts({
    url: redis.url,
    prefix: redis.keyPrefix,
    workerId: role === 'api' ? API_NODE_QUEUE_ID : redis.workerId,
    queueLimits: {
      capacity: config.queueSize,
      perTenant: config.queueTenantShare,
      maxBytes: config.queueMaxBytes,
      perTenantBytes: config.queueTenantMaxBytes,
    },
    recordBounds: {
      maxFinished: config.runRecordsMax,
      finishedTtlMs: config.runRecordsTtlSeconds * 1000,
      maxRecordBytes: config.runRecordMaxBytes,
      maxTotalBytes: config.runRecordsMaxBytes,
    },
    lockMs: redis.runLockMs,
    heartbeatMs: redis.heartbeatMs,
    // Checked at load (settings.ts); parsed here once into the key both sides seal and open with.
    ...(redis.queueSecretKey === '' ? {} : { secretKey: parseSecretKey(redis.queueSecretKey) }),
    ...hooks,
  });
}
