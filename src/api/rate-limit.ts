// Per-tenant fixed-window rate limit on rate-limiter-flexible: in process memory for one process
// (embedded), in Redis for many API nodes, so one tenant's budget is shared by every node rather than
// multiplied by their number. The counting is the library's (an atomic INCR + PEXPIRE script in Redis);
// this file only maps its answers onto the API's decision and its failures onto a closed error.
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config/settings.js';

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets (what Retry-After carries). */
  resetSeconds: number;
}

/** The limiter behind the API: memory for one process, Redis for many hosts (createRateLimit). */
export interface RateLimit {
  hit(key: string): RateDecision | Promise<RateDecision>;
}

/**
 * The shared counter could not be reached (Redis down or reconnecting). The API answers 503 rather than
 * admitting unmetered requests: a tenant's limit must hold across nodes even while Redis is away.
 */
export class RateLimitUnavailableError extends Error {
  override readonly name = 'RateLimitUnavailableError';
}

export interface RateLimitOptions {
  /** Requests one key may make per window. */
  limit: number;
  windowSeconds: number;
  /** Redis key prefix (`<prefix>:ratelimit:<key>`); only for the Redis limiter. */
  keyPrefix?: string;
}

/** Wraps either rate-limiter-flexible limiter: allowed and refused hits are both decisions, store errors are not. */
class FlexibleRateLimit implements RateLimit {
  constructor(private readonly limiter: RateLimiterAbstract, private readonly limit: number) {}

  async hit(key: string): Promise<RateDecision> {
    try {
      return this.decision(await this.limiter.consume(key), true);
    } catch (refusal) {
      // The library rejects a refused hit with its RateLimiterRes and a store failure with an Error.
      if (refusal instanceof RateLimiterRes) return this.decision(refusal, false);
      throw new RateLimitUnavailableError('rate limit store unreachable', { cause: refusal });
    }
  }

  private decision(res: RateLimiterRes, allowed: boolean): RateDecision {
    return {
      allowed,
      limit: this.limit,
      remaining: Math.max(0, res.remainingPoints),
      resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
    };
  }
}

/** One process: counters in memory (each key's entry is dropped by the library when its window ends). */
export function memoryRateLimit(options: RateLimitOptions): RateLimit {
  return new FlexibleRateLimit(new RateLimiterMemory({ points: options.limit, duration: options.windowSeconds }), options.limit);
}

/** Many API nodes: one counter per key in Redis, with the window as its TTL (nothing outlives a window). */
export function redisRateLimit(redis: Redis, options: RateLimitOptions): RateLimit {
  const limiter = new RateLimiterRedis({
    storeClient: redis,
    points: options.limit,
    duration: options.windowSeconds,
    keyPrefix: `${options.keyPrefix ?? 'confine'}:ratelimit`,
    // Refuse at once while the connection is down instead of queueing behind ioredis' reconnects.
    rejectIfRedisNotReady: true,
  });
  return new FlexibleRateLimit(limiter, options.limit);
}

/** The limiter the configuration asks for: Redis when a client is given (REDIS_URL set), memory otherwise. */
export function createRateLimit(config: Readonly<Pick<Config, 'rateLimitRequests' | 'rateLimitWindowSeconds'>>, redis?: { client: Redis; keyPrefix: string }): RateLimit {
  const options = { limit: config.rateLimitRequests, windowSeconds: config.rateLimitWindowSeconds };
  return redis ? redisRateLimit(redis.client, { ...options, keyPrefix: redis.keyPrefix }) : memoryRateLimit(options);
}
