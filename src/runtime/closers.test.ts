import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Closers } from './closers.js';

test('closers run in reverse order, all of them, and the first failure is thrown after the last', async () => {
  const ran: string[] = [];
  const c = new Closers();
  c.add(() => ran.push('store'));
  c.add(() => {
    ran.push('redis');
    throw new Error('redis close failed');
  });
  c.add(async () => {
    await new Promise((r) => setTimeout(r, 5));
    ran.push('writer');
    throw new Error('writer close failed');
  });
  c.add(() => ran.push('app'));
  await assert.rejects(c.closeAll(), /writer close failed/);
  assert.deepEqual(ran, ['app', 'writer', 'redis', 'store']);
  // Each closer runs once.
  await c.closeAll();
  assert.equal(ran.length, 4);
});

test('a failed start rethrows its own error, not a closer’s', async () => {
  const ran: string[] = [];
  const c = new Closers();
  c.add(() => ran.push('store'));
  c.add(() => {
    throw new Error('close failed');
  });
  await assert.rejects(c.abandon(new Error('the bus refused')), /the bus refused/);
  assert.deepEqual(ran, ['store']);
});
