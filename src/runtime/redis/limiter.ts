import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { LimitOutcome, LimitRequest, LimitSubject, Limiter } from '../../core/ports.js';
import type { RateLimitState } from '../../core/verify.js';
import type { Metrics } from '../metrics.js';
import type { RedisHealth } from './health.js';

/**
 * GCRA for every limit of the key (and of its identity, if any) plus their credit balances,
 * decided and consumed in one Lua script, so the check and the write are one atomic step across
 * all nodes (see core/ratelimit.ts for the algorithm; this is the same arithmetic). Nothing is
 * written unless everything passes: a refused call consumes nothing of either subject.
 *
 * A subject is the key or its identity. KEYS, per subject: one TAT key per limit, then its credit
 * key. ARGV: now, cost, number of subjects, then per subject: number of limits, (limit, windowMs)
 * per limit, the stored credit balance or -1 for "no credits", then a cap or -1: the lowest
 * balance this node has been told since the stored balance last rose. The shared balance never
 * exceeds the cap, so re-seeding after a Redis restart (from a stored balance that lags by up to
 * one usage flush) never hands out credits already acknowledged as spent.
 * Returns {status, refusing subject (0: none), then per subject: limitIndex (the refusing or
 * tightest limit, 0: none), remaining, resetAtMs, creditBalance}.
 * Keys with an identity: one script over both subjects (docs/hot-path.md#keys-with-an-identity).
 */
const SCRIPT = `
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local subjects = tonumber(ARGV[3])
local a, k = 4, 1
local subs = {}
for s = 1, subjects do
  local n = tonumber(ARGV[a])
  local sub = { n = n, limits = {}, tatKeys = {}, best = 0, bestRemaining = -1, bestReset = 0, newTats = {} }
  for i = 1, n do
    sub.limits[i] = { tonumber(ARGV[a + 2 * i - 1]), tonumber(ARGV[a + 2 * i]) }
    sub.tatKeys[i] = KEYS[k + i - 1]
  end
  a = a + 2 * n + 1
  sub.creditKey = KEYS[k + n]
  k = k + n + 1
  local creditInit = tonumber(ARGV[a])
  local cap = tonumber(ARGV[a + 1])
  a = a + 2
  sub.balance = -1
  if creditInit >= 0 then
    local v = redis.call('GET', sub.creditKey)
    if v then sub.balance = tonumber(v) else sub.balance = creditInit end
    if cap >= 0 and sub.balance > cap then sub.balance = cap end
  end
  subs[s] = sub
end
local function reply(status, refusing)
  local out = { status, refusing }
  for s = 1, subjects do
    local sub = subs[s]
    out[#out + 1] = sub.best
    out[#out + 1] = sub.bestRemaining
    out[#out + 1] = sub.bestReset
    out[#out + 1] = sub.balance
  end
  return out
end
for s = 1, subjects do
  local sub = subs[s]
  for i = 1, sub.n do
    local limit = sub.limits[i][1]
    local windowMs = sub.limits[i][2]
    local interval = windowMs / limit
    local tat = tonumber(redis.call('GET', sub.tatKeys[i]) or now)
    local base = math.max(tat, now)
    local newTat = base + interval * cost
    local allowAt = newTat - windowMs
    if allowAt > now + 0.000001 then
      sub.best = i
      sub.bestRemaining = math.max(0, math.floor((windowMs - (base - now)) / interval + 0.000000001))
      sub.bestReset = math.ceil(allowAt)
      return reply('RATE_LIMITED', s)
    end
    local remaining = math.max(0, math.floor((windowMs - (newTat - now)) / interval + 0.000000001))
    if sub.bestRemaining < 0 or remaining < sub.bestRemaining then
      sub.best, sub.bestRemaining, sub.bestReset = i, remaining, math.ceil(newTat)
    end
    sub.newTats[i] = newTat
  end
end
for s = 1, subjects do
  local b = subs[s].balance
  if b >= 0 and b < cost then return reply('USAGE_EXCEEDED', s) end
end
for s = 1, subjects do
  local sub = subs[s]
  for i = 1, sub.n do
    local ttl = math.ceil(sub.newTats[i] - now) + 1000
    -- %.17g keeps the double exactly (tostring keeps 14 digits: a TAT lost its sub-millisecond part)
    redis.call('SET', sub.tatKeys[i], string.format('%.17g', sub.newTats[i]), 'PX', ttl)
  end
  if sub.balance >= 0 then
    sub.balance = sub.balance - cost
    redis.call('SET', sub.creditKey, sub.balance, 'PX', 604800000)
  end
end
return reply('VALID', 0)
`;

/** [status, refusing subject, then (limitIndex, remaining, resetAtMs, balance) per subject]. */
type ScriptReply = [string, number, ...number[]];
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
    const subjects = subjectsOf(req);
    const keys: string[] = [];
    const args: (string | number)[] = [req.nowMs, req.cost, subjects.length];
    for (const sub of subjects) {
      for (const l of sub.ratelimits) keys.push(`${this.prefix}rl:${sub.id}:${l.name}`);
      keys.push(`${this.prefix}cr:${sub.id}`);
      args.push(sub.ratelimits.length);
      for (const l of sub.ratelimits) args.push(l.limit, l.windowSeconds * 1000);
      args.push(sub.credits ?? -1, this.capOf(sub.id, sub.credits));
    }
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
    const [status, refusing] = reply;
    const states: (RateLimitState | null)[] = [];
    const balances: ({ remaining: number } | null)[] = [];
    for (const [s, sub] of subjects.entries()) {
      const [index = 0, remaining = 0, resetAt = 0, balance = -1] = reply.slice(
        2 + 4 * s,
        6 + 4 * s,
      ) as number[];
      // Uses are also counted here so the batch writes them back to storage.
      if (status === 'VALID' && sub.credits !== null)
        this.pending.set(sub.id, (this.pending.get(sub.id) ?? 0) + req.cost);
      if (sub.credits !== null && balance >= 0) this.acknowledge(sub.id, sub.credits, balance);
      const limit = index > 0 ? sub.ratelimits[index - 1] : undefined;
      states.push(
        limit === undefined
          ? null
          : { name: limit.name, limit: limit.limit, remaining, resetAt: new Date(resetAt).toISOString() },
      );
      balances.push(sub.credits === null ? null : { remaining: balance });
    }
    let overall = refusing > 0 && status === 'RATE_LIMITED' ? (states[refusing - 1] ?? null) : null;
    if (overall === null)
      for (const t of states)
        if (t !== null && (overall === null || t.remaining < overall.remaining)) overall = t;
    const out: LimitOutcome = {
      code: status as LimitOutcome['code'],
      ratelimit: overall,
      credits: balances[0] ?? null,
    };
    if (req.identity !== undefined)
      out.identity = { ratelimit: states[1] ?? null, credits: balances[1] ?? null };
    if (refusing > 0) out.refusedBy = refusing === 1 ? 'key' : 'identity';
    return out;
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
      const capped = (id: string, stored: number | null): number | null => {
        const cap = this.capOf(id, stored);
        return cap >= 0 && stored !== null && cap < stored ? cap : stored;
      };
      const identity = req.identity;
      return this.fallback.consume({
        ...req,
        credits: capped(req.keyId, req.credits),
        identity:
          identity === undefined
            ? undefined
            : { ...identity, credits: capped(identity.id, identity.credits) },
      });
    }
    const first = req.ratelimits[0] ?? req.identity?.ratelimits[0];
    return {
      code: 'RATE_LIMITED',
      ratelimit: first
        ? {
            name: first.name,
            limit: first.limit,
            remaining: 0,
            resetAt: new Date(req.nowMs + 1000).toISOString(),
          }
        : null,
      credits: null,
      refusedBy: req.ratelimits[0] === undefined && first !== undefined ? 'identity' : 'key',
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

/** The key, then its identity if any: the subjects of one atomic limit decision. */
function subjectsOf(req: LimitRequest): LimitSubject[] {
  const key: LimitSubject = { id: req.keyId, ratelimits: req.ratelimits, credits: req.credits };
  return req.identity === undefined ? [key] : [key, req.identity];
}
