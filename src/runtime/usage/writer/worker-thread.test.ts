import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import type { Storage } from '../../../storage/db.js';
import { getMeta } from '../../../storage/meta-repo.js';
import { call, createKey, startServer, type TestServer } from '../../../testing/harness.js';
import { WorkerWriter } from './worker-thread.js';
import { PROGRESS_MARKER } from './worker-protocol.js';
import { ROWS, batcherOf, recordEvents, usageEnv, written } from '../../../testing/usage.js';

const workerOf = (t: TestServer): WorkerWriter => {
  const w = batcherOf(t).writer;
  assert.ok(w instanceof WorkerWriter);
  return w;
};

const died = async (t: TestServer): Promise<number> => {
  const m = /keywarden_job_runs_total\{job="usage_writer",outcome="died"\} (\d+)/.exec(
    (await call(t, 'GET', '/metrics', undefined, null)).raw,
  );
  return Number(m?.[1] ?? 0);
};

/** Waits until `cond()`, checking every millisecond (the main thread is free while the worker writes). */
async function until(cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe('usage writer thread (SQLite)', { timeout: 120_000 }, () => {
  let t: TestServer;
  let other: Storage;
  before(async () => {
    t = await startServer({ name: 'sqlite' }, { env: usageEnv(3_600_000) });
    other = t.openStorage();
  });
  after(async () => {
    await other.close();
    await t.close();
  });

  test('a locked database fails the write, keeps the batch, and a later flush writes it', async () => {
    const k = await createKey(t);
    recordEvents(t, k.id, 500);
    const raw = other.sqlite;
    assert.ok(raw !== undefined);
    // Another process holds the write lock for longer than the busy timeout (5 s).
    raw.prepare('begin immediate').run();
    try {
      await batcherOf(t).flush();
      assert.match(t.logs(), /usage flush failed; kept for the next try.*/);
      assert.match(t.logs(), /database is locked/);
    } finally {
      raw.prepare('rollback').run();
    }
    assert.equal((await written(other, k.id)).rows, 0);
    await batcherOf(t).flush();
    assert.equal((await written(other, k.id)).rows, 500);
  });

  test('a thread killed in the middle of a batch is replaced and the batch resumes: nothing lost or doubled', async () => {
    const writer = workerOf(t);
    const before = await died(t);
    const k = await createKey(t);
    const n = 40 * ROWS;
    recordEvents(t, k.id, n);
    const previous = await getMeta(other.db, PROGRESS_MARKER);
    const flushed = batcherOf(t).flush();
    // Kill it once at least one of this batch's transactions is committed (the marker names the job).
    await until(async () => {
      const marker = await getMeta(other.db, PROGRESS_MARKER);
      const events = Number(marker?.split(' ')[2] ?? 0);
      return marker !== previous && events < n && writer.thread !== undefined;
    });
    const victim = writer.thread;
    await victim?.terminate();
    await flushed;
    const w = await written(other, k.id);
    assert.equal(w.rows, n);
    assert.equal(w.daily, n);
    assert.equal(await died(t), before + 1);
    assert.match(t.logs(), /usage writer thread died; restarting it and resuming the batch/);
    assert.notEqual(writer.thread, undefined);
    assert.notEqual(writer.thread, victim, 'a new thread');
    assert.equal(writer.inProcess, false);
  });

  test('a thread that dies while idle is replaced at the next flush', async () => {
    const writer = workerOf(t);
    const k = await createKey(t);
    recordEvents(t, k.id, 10);
    await batcherOf(t).flush();
    await writer.thread?.terminate();
    await until(() => /usage writer thread exited while idle/.test(t.logs()));
    recordEvents(t, k.id, 10);
    await batcherOf(t).flush();
    assert.equal((await written(other, k.id)).rows, 20);
  });
});

describe('usage writer thread and the event loop (SQLite)', { timeout: 120_000 }, () => {
  test('a large flush does not hold the event loop', async () => {
    // One transaction of 40k rows, as a flush after a short outage would be.
    const t = await startServer(
      { name: 'sqlite' },
      { env: { KEYWARDEN_USAGE_FLUSH_MS: '3600000', KEYWARDEN_USAGE_ROWS_PER_TRANSACTION: '40000' } },
    );
    try {
      const k = await createKey(t);
      recordEvents(t, k.id, 40_000);
      let last = performance.now();
      let maxGap = 0;
      const beat = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
      }, 1);
      const t0 = performance.now();
      try {
        await batcherOf(t).flush();
      } finally {
        clearInterval(beat);
      }
      const took = performance.now() - t0;
      maxGap = Math.max(maxGap, performance.now() - last);
      assert.ok(
        maxGap < took / 4,
        `the event loop stalled for ${maxGap.toFixed(0)} ms of a ${took.toFixed(0)} ms flush`,
      );
    } finally {
      await t.close();
    }
  });
});

describe('usage writer thread dying repeatedly (SQLite)', { timeout: 120_000 }, () => {
  test('after three deaths in a row the writes move to the main thread, and the batch is complete', async () => {
    const t = await startServer({ name: 'sqlite' }, { env: usageEnv(3_600_000) });
    const other = t.openStorage();
    try {
      const writer = workerOf(t);
      const k = await createKey(t);
      const n = 20 * ROWS;
      recordEvents(t, k.id, n);
      const killed = new Set<Worker>();
      const killer = setInterval(() => {
        const th = writer.thread;
        if (th !== undefined && !killed.has(th)) {
          killed.add(th);
          void th.terminate();
        }
      }, 1);
      try {
        await batcherOf(t).flush();
      } finally {
        clearInterval(killer);
      }
      assert.equal(writer.inProcess, true);
      assert.equal(killed.size, 3);
      const w = await written(other, k.id);
      assert.equal(w.rows, n);
      assert.equal(w.daily, n);
      assert.match(t.logs(), /usage writer thread died repeatedly; usage is written on the main thread/);
      assert.match(
        (await call(t, 'GET', '/metrics', undefined, null)).raw,
        /keywarden_job_runs_total\{job="usage_writer",outcome="fallback"\} 1/,
      );
      recordEvents(t, k.id, 10);
      await batcherOf(t).flush();
      assert.equal((await written(other, k.id)).rows, n + 10);
    } finally {
      await other.close();
      await t.close();
    }
  });
});
