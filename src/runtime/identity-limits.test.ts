import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { RateLimit } from '../core/model.js';
import type { LimitOutcome, LimitRequest } from '../core/ports.js';
import { MemoryLimiter } from './memory/limiter.js';
import { Metrics } from './metrics.js';
import { RedisLimiter } from './redis/limiter.js';
import { redisUrl } from '../testing/harness.js';
import { uniqueName } from '../testing/nodes.js';

/**
 * The atomic multi-limit semantics of a key with an identity (issue 22; docs/identities.md): a
 * call passes only if every limit of the key and of the identity and both balances allow it, and
 * only then consumes from all of them. Proved on the memory limiter, then the Redis script is
 * checked against it as an oracle, call by call, from two limiters (two nodes) sharing Redis.
 */

const T0 = Date.parse('2026-06-01T10:00:00.000Z');
const rl = (name: string, limit: number, windowSeconds = 3600): RateLimit => ({ name, limit, windowSeconds });

function req(over: Partial<LimitRequest> & { keyId: string }): LimitRequest {
  return { ratelimits: [], credits: null, cost: 1, nowMs: T0, ...over };
}

describe('a key with an identity on the memory limiter', () => {
  test("the identity's limit is shared by its keys; the tightest limit overall is answered", () => {
    const m = new MemoryLimiter(() => T0);
    const identity = { id: 'idn_1', ratelimits: [rl('customer', 3)], credits: null };
    const a = (): LimitOutcome => m.consume(req({ keyId: 'key_a', ratelimits: [rl('key', 10)], identity }));
    const b = (): LimitOutcome => m.consume(req({ keyId: 'key_b', identity }));
    const first = a();
    assert.equal(first.code, 'VALID');
    assert.equal(first.ratelimit?.name, 'customer');
    assert.equal(first.ratelimit?.remaining, 2);
    assert.equal(first.identity?.ratelimit?.remaining, 2);
    assert.equal(b().code, 'VALID');
    assert.equal(a().code, 'VALID');
    const refused = b();
    assert.deepEqual(
      [refused.code, refused.refusedBy, refused.ratelimit?.name],
      ['RATE_LIMITED', 'identity', 'customer'],
    );
    // Key a's own limit took exactly its 2 passing calls (10 - 2 - 1 for this one).
    const m2 = a();
    assert.equal(m2.code, 'RATE_LIMITED');
    const alone = m.consume(req({ keyId: 'key_a', ratelimits: [rl('key', 10)] }));
    assert.equal(alone.ratelimit?.remaining, 7, 'the refused calls took nothing of the key limit');
    m.close().catch(() => undefined);
  });

  test('a refusal by either side consumes nothing of the other: limits and balances', () => {
    const m = new MemoryLimiter(() => T0);
    // The key's limit refuses: the identity's limit and balance stay whole.
    const identity = { id: 'idn_2', ratelimits: [rl('customer', 5)], credits: 10 };
    const k = (): LimitOutcome =>
      m.consume(req({ keyId: 'key_c', ratelimits: [rl('key', 1)], credits: 100, identity }));
    assert.equal(k().code, 'VALID');
    for (let i = 0; i < 5; i++) {
      const r = k();
      assert.deepEqual([r.code, r.refusedBy], ['RATE_LIMITED', 'key']);
      assert.deepEqual(r.identity?.credits, { remaining: 9 });
      assert.deepEqual(r.credits, { remaining: 99 });
    }
    const other = m.consume(req({ keyId: 'key_d', identity }));
    assert.equal(other.identity?.ratelimit?.remaining, 3, '5 - 1 (key_c) - 1 (this call)');
    assert.deepEqual(other.identity?.credits, { remaining: 8 });

    // The key's balance refuses: the identity's balance and limit stay whole.
    const poor = { id: 'idn_3', ratelimits: [rl('customer', 100)], credits: 50 };
    const p = (cost: number): LimitOutcome =>
      m.consume(req({ keyId: 'key_e', credits: 2, cost, identity: poor }));
    assert.equal(p(2).code, 'VALID');
    const empty = p(1);
    assert.deepEqual([empty.code, empty.refusedBy], ['USAGE_EXCEEDED', 'key']);
    assert.deepEqual(empty.identity?.credits, { remaining: 48 });
    const next = m.consume(req({ keyId: 'key_e2', identity: poor }));
    assert.equal(next.identity?.ratelimit?.remaining, 97, '100 - 2 - 1: the refused call took nothing');

    // The identity's balance refuses: the key's balance and limit stay whole.
    const broke = { id: 'idn_4', ratelimits: [], credits: 1 };
    const q = (): LimitOutcome =>
      m.consume(req({ keyId: 'key_f', ratelimits: [rl('key', 100)], credits: 10, identity: broke }));
    assert.equal(q().code, 'VALID');
    const r = q();
    assert.deepEqual([r.code, r.refusedBy], ['USAGE_EXCEEDED', 'identity']);
    assert.deepEqual(r.credits, { remaining: 9 });
    assert.deepEqual(r.identity?.credits, { remaining: 0 });
    assert.equal(r.ratelimit?.remaining, 99 - 1 + 1 - 1, 'the key limit shows the one passing call only');
    // Uses of both are handed to the usage batch, each by its own id.
    assert.deepEqual(Object.fromEntries(m.drainCreditUse()), {
      key_c: 1,
      idn_2: 2,
      key_e: 2,
      idn_3: 3,
      key_f: 1,
      idn_4: 1,
    });
    m.close().catch(() => undefined);
  });
});

const enabled = redisUrl !== undefined;

describe(
  'the Redis script agrees with the memory limiter, from two nodes',
  { skip: !enabled && 'needs KEYWARDEN_TEST_REDIS_URL', timeout: 60_000 },
  () => {
    const prefix = `${uniqueName('kwt_idn')}:`;
    const conns: Redis[] = [];
    const nodes: RedisLimiter[] = [];
    const log = pino({ level: 'silent' });
    before(async () => {
      for (let i = 0; i < 2; i++) {
        const r = new Redis(redisUrl ?? '', { lazyConnect: true, maxRetriesPerRequest: 0 });
        await r.connect();
        conns.push(r);
        nodes.push(
          new RedisLimiter(
            r,
            prefix,
            new MemoryLimiter(),
            'closed',
            new Metrics({ defaultMetrics: false }),
            log,
          ),
        );
      }
    });
    after(async () => {
      const [c] = conns;
      if (c !== undefined) {
        const keys = await c.keys(`${prefix}*`);
        if (keys.length > 0) await c.del(...keys);
      }
      for (const n of nodes) await n.close();
      for (const r of conns) r.disconnect();
    });

    test('a random sequence of calls from two nodes answers as the memory limiter does, call by call', async () => {
      const oracle = new MemoryLimiter();
      // A deterministic generator: a failure is reproducible.
      let seed = 42;
      const rand = (n: number): number => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        // The high bits: an LCG's low bits repeat with a short period.
        return (seed >>> 16) % n;
      };
      const identities = [
        { id: `idn_${prefix}1`, ratelimits: [rl('customer', 12, 60), rl('burst', 4, 1)], credits: 40 },
        { id: `idn_${prefix}2`, ratelimits: [], credits: 9 },
        { id: `idn_${prefix}3`, ratelimits: [rl('customer', 6, 10)], credits: null },
      ];
      const keys = Array.from({ length: 6 }, (_, i) => ({
        keyId: `key_${prefix}${i}`,
        ratelimits: i % 2 === 0 ? [rl('own', 2, 5)] : [],
        credits: i % 2 === 1 ? 6 : null,
        identity: identities[i % 3],
      }));
      // Redis expires a TAT in real time (its TTL is how long the TAT matters): the calls' clock
      // starts now and runs ahead of the real one, so no TAT expires before the limiter is done with it.
      let now = Date.now();
      const seenCodes = new Set<string>();
      for (let step = 0; step < 600; step++) {
        now = Math.max(now + rand(4) * 125, Date.now());
        const k = keys[rand(keys.length)];
        assert.ok(k !== undefined);
        const r = { ...k, cost: rand(5) === 0 ? 2 : 1, nowMs: now };
        const node = nodes[step % 2];
        assert.ok(node !== undefined);
        const got = await node.consume(r);
        const want = oracle.consume(r);
        assert.deepEqual(got, want, `step ${step}: ${JSON.stringify(r)}`);
        seenCodes.add(`${got.code}/${got.refusedBy ?? ''}`);
      }
      // The sequence exercised every way of passing and refusing.
      for (const c of [
        'VALID/',
        'RATE_LIMITED/key',
        'RATE_LIMITED/identity',
        'USAGE_EXCEEDED/key',
        'USAGE_EXCEEDED/identity',
      ])
        assert.ok(seenCodes.has(c), `${c} never happened: ${[...seenCodes].join(', ')}`);
      // Both nodes handed their uses to their own batches; together they are the oracle's.
      const used = new Map<string, number>();
      for (const n of nodes) for (const [id, u] of n.drainCreditUse()) used.set(id, (used.get(id) ?? 0) + u);
      assert.deepEqual(
        Object.fromEntries([...used].sort()),
        Object.fromEntries([...oracle.drainCreditUse()].sort()),
      );
      await oracle.close();
    });

    test('concurrent calls on two nodes for two keys of one identity: exactly its limit and balance pass', async () => {
      const identity = { id: `idn_${prefix}conc`, ratelimits: [rl('customer', 25)], credits: 18 };
      const calls = Array.from({ length: 60 }, (_, i) => {
        const node = nodes[i % 2];
        assert.ok(node !== undefined);
        return node.consume(
          req({ keyId: `key_${prefix}conc${i % 3}`, ratelimits: [rl('own', 30)], identity }),
        );
      });
      const out = await Promise.all(calls);
      assert.equal(out.filter((o) => o.code === 'VALID').length, 18);
      assert.equal(out.filter((o) => o.code === 'USAGE_EXCEEDED' && o.refusedBy === 'identity').length, 42);
      const balances = out.filter((o) => o.code === 'VALID').map((o) => o.identity?.credits?.remaining);
      assert.deepEqual(
        [...balances].sort((x, y) => (x ?? 0) - (y ?? 0)),
        Array.from({ length: 18 }, (_, i) => i),
      );
    });
  },
);
