import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gcra } from './ratelimit.js';

const limit = { name: 'default', limit: 5, windowSeconds: 10 };

function run(times: number[], cost = 1): boolean[] {
  let tat: number | undefined;
  return times.map((t) => {
    const d = gcra(limit, tat, t, cost);
    if (d.allowed) tat = d.newTat;
    return d.allowed;
  });
}

test('a burst of exactly N passes, the N+1st fails', () => {
  assert.deepEqual(run([0, 0, 0, 0, 0, 0]), [true, true, true, true, true, false]);
});

test('refills continuously: one request per W/N', () => {
  // 5 per 10 s: after the burst, the next is allowed 2 s later, not before.
  assert.deepEqual(run([0, 0, 0, 0, 0, 1999, 2000, 2001]), [
    true,
    true,
    true,
    true,
    true,
    false,
    true,
    false,
  ]);
  // After a full window of silence the whole burst is back.
  assert.deepEqual(run([0, 0, 0, 0, 0, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000]), [
    true,
    true,
    true,
    true,
    true,
    true,
    true,
    true,
    true,
    true,
    false,
  ]);
});

test('remaining and resetAt', () => {
  let tat: number | undefined;
  const seen: number[] = [];
  for (let i = 0; i < 5; i++) {
    const d = gcra(limit, tat, 0, 1);
    tat = d.newTat;
    seen.push(d.remaining);
  }
  assert.deepEqual(seen, [4, 3, 2, 1, 0]);
  const no = gcra(limit, tat, 0, 1);
  assert.equal(no.allowed, false);
  assert.equal(no.remaining, 0);
  assert.equal(no.resetAtMs, 2000, 'the next request is allowed after one interval');
});

test('cost counts as several requests; cost 0 never consumes', () => {
  assert.deepEqual(run([0, 0, 0], 2), [true, true, false]);
  assert.deepEqual(run([0, 0, 0, 0, 0, 0, 0, 0], 0), [true, true, true, true, true, true, true, true]);
  const big = gcra(limit, undefined, 0, 6);
  assert.equal(big.allowed, false, 'a cost above the limit can never pass');
});
