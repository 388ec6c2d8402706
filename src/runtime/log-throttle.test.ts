import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogThrottle } from './log-throttle.js';

test('one line per cause per interval, the next one says how many were left out', () => {
  let now = 0;
  const t = new LogThrottle(1000, () => now);
  assert.equal(t.admit('503 /v1/verify'), 0, 'the first line of a cause is written');
  for (let i = 0; i < 500; i++) assert.equal(t.admit('503 /v1/verify'), undefined);
  assert.equal(t.admit('500 /v1/keys'), 0, 'another cause is not held back');
  now = 999;
  assert.equal(t.admit('503 /v1/verify'), undefined);
  now = 1000;
  assert.equal(t.admit('503 /v1/verify'), 501, 'written again after the interval, with the count');
  assert.equal(t.admit('503 /v1/verify'), undefined);
  now = 5000;
  assert.equal(t.admit('503 /v1/verify'), 1);
});

test('interval 0 writes every line; the causes tracked are bounded', () => {
  const every = new LogThrottle(0);
  for (let i = 0; i < 3; i++) assert.equal(every.admit('x'), 0);
  const now = 0;
  const bounded = new LogThrottle(1000, () => now, 2);
  assert.equal(bounded.admit('a'), 0);
  assert.equal(bounded.admit('b'), 0);
  assert.equal(bounded.admit('c'), 0, 'a third cause evicts the oldest');
  assert.equal(bounded.admit('a'), 0, '"a" was forgotten, so it is written again');
  assert.equal(bounded.admit('c'), undefined);
});
