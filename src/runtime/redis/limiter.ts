import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { LimitOutcome, LimitRequest, Limiter } from '../../core/ports.js';
import type { Metrics } from '../metrics.js';
import type { RedisHealth } from './health.js';

/**
 * GCRA for every limit of the key plus the credit balance, decided and consumed in one Lua
 * script, so the check and the write are one atomic step across all nodes (see core/ratelimit.ts
 * for the algorithm; this is the same arithmetic). Nothing is written unless everything passes.
 *
 * KEYS: one TAT key per limit, then the credit key. ARGV: now, cost, number of limits,
 * (limit, windowMs) per limit, then the stored credit balance or -1 for "no credits", then a
 * cap or -1: the lowest balance this node has been told since the stored balance last rose.
 * The shared balance never exceeds the cap, so re-seeding after a Redis restart (from a stored
 * balance that lags by up to one usage flush) never hands out credits already acknowledged as spent.
 * Returns {status, limitIndex, remaining, resetAtMs, creditBalance}.
 */
const SCRIPT = `
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local creditInit = tonumber(ARGV[4 + 2 * n])
local cap = tonumber(ARGV[5 + 2 * n])
local balance = -1
if creditInit >= 0 then
  local v = redis.call('GET', KEYS[n + 1])
  if v then balance = tonumber(v) else balance = creditInit end
  if cap >= 0 and balance > cap then balance = cap end
end
local newTats = {}
local best, bestRemaining, bestReset = 0, -1, 0
for i = 1, n do
  local limit = tonumber(ARGV[2 + 2 * i])
  local windowMs = tonumber(ARGV[3 + 2 * i])
  local interval = windowMs / limit
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  local base = math.max(tat, now)
  local newTat = base + interval * cost
  local allowAt = newTat - windowMs
  if allowAt > now + 0.000001 then
    local remaining = math.max(0, math.floor((windowMs - (base - now)) / interval + 0.000000001))
    return {'RATE_LIMITED', i, remaining, math.ceil(allowAt), balance}
  end
  local remaining = math.max(0, math.floor((windowMs - (newTat - now)) / interval + 0.000000001))
  if bestRemaining < 0 or remaining < bestRemaining then
    best, bestRemaining, bestReset = i, remaining, math.ceil(newTat)
  end
  newTats[i] = newTat
end
if balance >= 0 and balance < cost then
  return {'USAGE_EXCEEDED', best, bestRemaining, bestReset, balance}
end
for i = 1, n do
  local ttl = math.ceil(newTats[i] - now) + 1000
  redis.call('SET', KEYS[i], tostring(newTats[i]), 'PX', ttl)
end
if balance >= 0 then
  balance = balance - cost
  redis.call('SET', KEYS[n + 1], balance, 'PX', 604800000)
end
return {'VALID', best, bestRemaining, bestReset, balance}
`;

type ScriptReply = [string, number, number, number, number];
type RedisWithScript = Redis & {
  kwLimit(numKeys: number, ...args: (string | number)[]): Promise<ScriptReply>;
};

export type OnRedisFailure = 'open' | 'closed';

/**
 * Limits and credits shared by every node through Redis. When Redis fails, `onFailure` decides:
 * `open` falls back to this node's own limiter (limits become per node), `closed` refuses with
 * RATE_LIMITED. Either way a metric and a log line say so, and the next call tries Redis again.
 * While the health check says Redis is down (the circuit is open) calls take that path at once,
 * and calls already waiting on Redis stop waiting the moment it is declared down.
 */
export class RedisLimiter implements Limiter {
  private readonly redis: RedisWithScript;
  private degraded = false;
  private health: RedisHealth | undefined;
  /**
   * Per key with credits: the lowest balance Redis acknowledged to this node (`low`), and the
   * stored balance it came with (`stored`). A higher stored balance means a refill or an admin
   * change, which starts over.
   */
  private readonly acknowledged = new Map<string, { stored: number; low: number }>();

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly fallback: Limiter,
    private readonly onFailure: OnRedisFailure,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    redis.defineCommand('kwLimit', { lua: SCRIPT });
    this.redis = redis as RedisWithScript;
  }

  /** Calls waiting on Redis, failed at once when the health check declares it down. */
  private readonly waiting = new Set<(err: Error) => void>();

  /** Opens the circuit while `health` says Redis is down. */
  watch(health: RedisHealth): void {
    this.health = health;
    health.onChange((healthy) => {
      if (healthy) return;
      const err = new Error('Redis is not answering (declared down while waiting)');
      for (const stop of this.waiting) stop(err);
      this.waiting.clear();
    });
  }

  private untilDown<T>(call: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.add(reject);
      call.then(
        (v) => {
          this.waiting.delete(reject);
          resolve(v);
        },
        (err: unknown) => {
          this.waiting.delete(reject);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /** The cap on a key's shared balance (-1: none). */
  private capOf(keyId: string, stored: number | null): number {
    if (stored === null) return -1;
    const a = this.acknowledged.get(keyId);
    if (a === undefined || stored > a.stored) return -1;
    return a.low;
  }

  private acknowledge(keyId: string, stored: number, balance: number): void {
    const a = this.acknowledged.get(keyId);
    if (a === undefined || stored > a.stored) {
      // Bounded: a node tracks the keys it verified; the oldest entries go first.
      if (this.acknowledged.size >= 1_000_000) {
        const oldest = this.acknowledged.keys().next().value;
        if (oldest !== undefined) this.acknowledged.delete(oldest);
      }
      this.acknowledged.set(keyId, { stored, low: balance });
    } else {
      a.stored = stored;
      if (balance < a.low) a.low = balance;
    }
  }

  async consume(req: LimitRequest): Promise<LimitOutcome> {
    if (this.health?.healthy === false)
      return this.failed(new Error('Redis is not answering (circuit open)'), req);
    const keys = req.ratelimits.map((l) => `${this.prefix}rl:${req.keyId}:${l.name}`);
    keys.push(`${this.prefix}cr:${req.keyId}`);
    const args: (string | number)[] = [req.nowMs, req.cost, req.ratelimits.length];
    for (const l of req.ratelimits) args.push(l.limit, l.windowSeconds * 1000);
    args.push(req.credits ?? -1, this.capOf(req.keyId, req.credits));
    let reply: ScriptReply;
    try {
      const call = this.redis.kwLimit(keys.length, ...keys, ...args);
      reply = this.health === undefined ? await call : await this.untilDown(call);
    } catch (err) {
      return this.failed(err, req);
    }
    if (this.degraded) {
      this.degraded = false;
      this.log.info('Redis is reachable again: rate limits and credits are shared across nodes again');
    }
    // Uses are also counted here so the batch writes them back to storage.
    if (reply[0] === 'VALID' && req.credits !== null)
      this.pending.set(req.keyId, (this.pending.get(req.keyId) ?? 0) + req.cost);
    const [status, index, remaining, resetAt, balance] = reply;
    if (req.credits !== null && balance >= 0) this.acknowledge(req.keyId, req.credits, balance);
    const limit = index > 0 ? req.ratelimits[index - 1] : undefined;
    return {
      code: status as LimitOutcome['code'],
      ratelimit:
        limit === undefined
          ? null
          : { name: limit.name, limit: limit.limit, remaining, resetAt: new Date(resetAt).toISOString() },
      credits: req.credits === null ? null : { remaining: balance },
    };
  }

  private readonly pending = new Map<string, number>();

  private async failed(err: unknown, req: LimitRequest): Promise<LimitOutcome> {
    this.metrics.jobRuns
      .labels('redis_limiter', this.onFailure === 'open' ? 'fail_open' : 'fail_closed')
      .inc();
    if (!this.degraded) {
      this.degraded = true;
      this.log.error(
        { err: (err as Error).message, mode: this.onFailure },
        this.onFailure === 'open'
          ? 'Redis unreachable: rate limits fall back to per-node limits (fail-open)'
          : 'Redis unreachable: rate-limited keys are refused (fail-closed)',
      );
    }
    if (this.onFailure === 'open') {
      // Per node, but never above what Redis last acknowledged to this node.
      const cap = this.capOf(req.keyId, req.credits);
      return this.fallback.consume(
        cap >= 0 && req.credits !== null && cap < req.credits ? { ...req, credits: cap } : req,
      );
    }
    return {
      code: 'RATE_LIMITED',
      ratelimit: req.ratelimits[0]
        ? {
            name: req.ratelimits[0].name,
            limit: req.ratelimits[0].limit,
            remaining: 0,
            resetAt: new Date(req.nowMs + 1000).toISOString(),
          }
        : null,
      credits: null,
    };
  }

  drainCreditUse(): Map<string, number> {
    const out = new Map(this.pending);
    this.pending.clear();
    for (const [id, n] of this.fallback.drainCreditUse()) out.set(id, (out.get(id) ?? 0) + n);
    return out;
  }

  restoreCreditUse(uses: Map<string, number>): void {
    for (const [id, n] of uses) this.pending.set(id, (this.pending.get(id) ?? 0) + n);
  }

  /** The stored balance changed (admin patch, refill): drop the shared one so the next use re-reads it. */
  resetCredits(keyId: string): void {
    this.acknowledged.delete(keyId);
    this.fallback.resetCredits(keyId);
    this.redis.del(`${this.prefix}cr:${keyId}`).catch((err: unknown) => {
      this.log.warn({ err: (err as Error).message, keyId }, 'could not reset a shared credit balance');
    });
  }

  async close(): Promise<void> {
    await this.fallback.close();
  }
}
