import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock, call, createKey, verify, describeEachDialect } from '../testing/harness.js';

describeEachDialect('rate limits and credits', (t) => {
  const clock = new ManualClock(Date.parse('2026-06-01T10:00:00.000Z'));

  test('exact count under concurrency: with limit N, N pass and the rest are RATE_LIMITED', async () => {
    const k = await createKey(t, { ratelimits: [{ name: 'burst', limit: 20, windowSeconds: 60 }] });
    const results = await Promise.all(Array.from({ length: 50 }, () => verify(t, { key: k.key })));
    const codes = results.map((r) => r.code);
    assert.equal(codes.filter((c) => c === 'VALID').length, 20);
    assert.equal(codes.filter((c) => c === 'RATE_LIMITED').length, 30);
    const limited = results.find((r) => r.code === 'RATE_LIMITED') as {
      ratelimit: { name: string; limit: number; remaining: number; resetAt: string };
    };
    assert.equal(limited.ratelimit.name, 'burst');
    assert.equal(limited.ratelimit.remaining, 0);
    assert.equal(
      limited.ratelimit.resetAt,
      new Date(clock.now() + 3000).toISOString(),
      'one interval (60 s / 20) later',
    );
    clock.advance(3);
    assert.equal((await verify(t, { key: k.key })).code, 'VALID', 'refilled by one after W/N');
    assert.equal((await verify(t, { key: k.key })).code, 'RATE_LIMITED');
  });

  test('the response carries the tightest limit; every limit must pass', async () => {
    const k = await createKey(t, {
      ratelimits: [
        { name: 'per-minute', limit: 100, windowSeconds: 60 },
        { name: 'per-second', limit: 2, windowSeconds: 1 },
      ],
    });
    const a = await verify(t, { key: k.key });
    assert.deepEqual(a.ratelimit, {
      name: 'per-second',
      limit: 2,
      remaining: 1,
      resetAt: new Date(clock.now() + 500).toISOString(),
    });
    await verify(t, { key: k.key });
    const c = await verify(t, { key: k.key });
    assert.equal(c.code, 'RATE_LIMITED');
    assert.equal((c.ratelimit as { name: string }).name, 'per-second');
    clock.advance(1);
    const d = await verify(t, { key: k.key });
    assert.equal(d.code, 'VALID');
    // The refused call consumed nothing from the minute limit: 3 of 100 used.
    assert.equal((d as { ratelimit: { remaining: number } }).ratelimit.remaining, 1);
  });

  test('a verification rejected for an earlier reason consumes neither limits nor credits', async () => {
    const k = await createKey(t, {
      ratelimits: [{ name: 'l', limit: 2, windowSeconds: 3600 }],
      credits: { remaining: 2 },
      ipAllowlist: ['10.0.0.0/8'],
    });
    for (let i = 0; i < 5; i++) {
      assert.equal(
        (await verify(t, { key: k.key, permission: 'admin:everything', ip: '10.1.1.1' })).code,
        'INSUFFICIENT_PERMISSIONS',
      );
      assert.equal((await verify(t, { key: k.key, ip: '8.8.8.8' })).code, 'IP_NOT_ALLOWED');
      assert.equal(
        (await verify(t, { key: k.key, environment: 'staging', ip: '10.1.1.1' })).code,
        'ENVIRONMENT_MISMATCH',
      );
    }
    assert.equal((await verify(t, { key: k.key, ip: '10.1.1.1' })).code, 'VALID');
    assert.equal((await verify(t, { key: k.key, ip: '10.1.1.1' })).code, 'VALID');
  });

  test('credits: cost is deducted, never below zero, 0 is free; rate-limited calls spend no credit', async () => {
    const k = await createKey(t, { credits: { remaining: 5 } });
    const a = await verify(t, { key: k.key, cost: 3 });
    assert.deepEqual([a.code, a.credits], ['VALID', { remaining: 2 }]);
    const b = await verify(t, { key: k.key, cost: 3 });
    assert.deepEqual([b.code, b.credits], ['USAGE_EXCEEDED', { remaining: 2 }]);
    assert.equal((await verify(t, { key: k.key, cost: 0 })).code, 'VALID');
    assert.equal((await verify(t, { key: k.key })).code, 'VALID');
    assert.equal((await verify(t, { key: k.key })).code, 'VALID');
    const e = await verify(t, { key: k.key });
    assert.deepEqual([e.code, e.credits], ['USAGE_EXCEEDED', { remaining: 0 }]);
    await t.kw.services.ctx.usage.flush();
    assert.deepEqual((await call(t, 'GET', `/v1/keys/${k.id}`)).body.credits, {
      remaining: 0,
      refill: null,
    });

    const both = await createKey(t, {
      credits: { remaining: 10 },
      ratelimits: [{ name: 'l', limit: 1, windowSeconds: 3600 }],
    });
    assert.equal((await verify(t, { key: both.key })).code, 'VALID');
    assert.equal((await verify(t, { key: both.key })).code, 'RATE_LIMITED');
    await t.kw.services.ctx.usage.flush();
    assert.equal(
      ((await call(t, 'GET', `/v1/keys/${both.id}`)).body.credits as { remaining: number }).remaining,
      9,
    );
  });

  test('credits under concurrency: exactly the balance passes', async () => {
    const k = await createKey(t, { credits: { remaining: 7 } });
    const results = await Promise.all(Array.from({ length: 30 }, () => verify(t, { key: k.key })));
    assert.equal(results.filter((r) => r.code === 'VALID').length, 7);
    assert.equal(results.filter((r) => r.code === 'USAGE_EXCEEDED').length, 23);
  });

  test('an admin patch of credits replaces the balance at once', async () => {
    const k = await createKey(t, { credits: { remaining: 1 } });
    assert.equal((await verify(t, { key: k.key })).code, 'VALID');
    assert.equal((await verify(t, { key: k.key })).code, 'USAGE_EXCEEDED');
    assert.equal((await call(t, 'PATCH', `/v1/keys/${k.id}`, { credits: { remaining: 3 } })).status, 200);
    assert.deepEqual((await verify(t, { key: k.key })).credits, { remaining: 2 });
    await t.kw.services.ctx.usage.flush();
    assert.equal(
      ((await call(t, 'GET', `/v1/keys/${k.id}`)).body.credits as { remaining: number }).remaining,
      2,
    );
  });

  test('refills happen on schedule, also for keys nobody uses (injected clock)', async () => {
    const used = await createKey(t, {
      credits: { remaining: 1, refill: { amount: 5, interval: 'daily' } },
    });
    const idle = await createKey(t, {
      credits: { remaining: 0, refill: { amount: 50, interval: 'monthly' } },
    });
    assert.equal((await verify(t, { key: used.key })).code, 'VALID');
    assert.equal((await verify(t, { key: used.key })).code, 'USAGE_EXCEEDED');
    assert.equal(await t.kw.jobs.refillCredits(), 0, 'nothing is due the same day');
    clock.ms = Date.parse('2026-06-02T00:00:01.000Z');
    assert.equal(await t.kw.jobs.refillCredits(), 1, 'the daily key refills at midnight UTC');
    assert.equal(await t.kw.jobs.refillCredits(), 0, 'and only once');
    assert.deepEqual((await verify(t, { key: used.key })).credits, { remaining: 4 });
    assert.equal(
      ((await call(t, 'GET', `/v1/keys/${idle.id}`)).body.credits as { remaining: number }).remaining,
      0,
    );
    clock.ms = Date.parse('2026-07-01T00:00:05.000Z');
    await t.kw.jobs.runAll();
    const idleRec = (await call(t, 'GET', `/v1/keys/${idle.id}`)).body.credits as { remaining: number };
    assert.equal(idleRec.remaining, 50, 'the monthly key refilled on the 1st without being used');
    const metrics = (await call(t, 'GET', '/metrics', undefined, null)).raw;
    assert.match(metrics, /keywarden_job_runs_total\{job="credit_refill",outcome="ok"\} \d+/);
    assert.match(metrics, /keywarden_ratelimit_rejections_total\{reason="credits"\} \d+/);
  });
  return { clock };
});
