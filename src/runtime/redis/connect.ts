import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Limiter } from '../../core/ports.js';
import type { Metrics } from '../metrics.js';
import { RedisBus } from './bus.js';
import { RedisHealth, type RedisHealthOptions } from './health.js';
import { RedisLimiter, type OnRedisFailure } from './limiter.js';

export interface RedisRuntime {
  limiter: RedisLimiter;
  bus: RedisBus;
  health: RedisHealth;
  close(): Promise<void>;
}

/**
 * Connects to Redis for shared limits and invalidation. Commands fail fast while Redis is down
 * (no offline queue), so verification never waits on it; ioredis reconnects by itself.
 */
export async function connectRedis(
  url: string,
  prefix: string,
  fallback: Limiter,
  onFailure: OnRedisFailure,
  metrics: Metrics,
  log: Logger,
  healthOptions: RedisHealthOptions = { intervalMs: 250, timeoutMs: 500 },
): Promise<RedisRuntime> {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    commandTimeout: 1000,
    retryStrategy: (times) => Math.min(times * 100, 1000),
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (err) {
    log.error(
      { err: (err as Error).message },
      'Redis unreachable at start; running degraded until it answers',
    );
  }
  const limiter = new RedisLimiter(redis, prefix, fallback, onFailure, metrics, log);
  const bus = new RedisBus(redis, `${prefix}invalidate`, log);
  const health = new RedisHealth([redis, bus.subscriber], healthOptions, log);
  health.healthy = redis.status === 'ready';
  limiter.watch(health);
  bus.watch(health);
  health.start();
  return {
    limiter,
    bus,
    health,
    async close() {
      health.stop();
      await bus.close();
      redis.disconnect();
    },
  };
}
