import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import type { VerificationEvent } from '../../core/ports.js';
import { MemoryLimiter } from '../memory/limiter.js';
import { Metrics } from '../metrics.js';
import { UsageBatcher } from './batcher.js';
import { FlushPacer, type PacerOptions } from './pacer.js';
import { countEvents, type FlushJob, type JobResult, type UsageWriter } from './writer/port.js';

const OPTS: PacerOptions = { baseMs: 1000, maxMs: 60_000, budgetUs: 1, maxShare: 0.01 };

/**
 * A writer's cost as the docs measure it: `perRowUs` per distinct combination in the flush, where
 * `keys` keys are called at random at `rate` per second (the HTTP benchmark's mix).
 */
const model =
  (keys: number, rate: number, perRowUs: number) =>
  (intervalMs: number): { events: number; busyMs: number } => {
    const events = Math.round((rate * intervalMs) / 1000);
    const rows = keys * (1 - Math.exp(-events / keys));
    return { events, busyMs: (rows * perRowUs) / 1000 };
  };

/** Runs the pacer against a workload for `flushes` flushes; returns the intervals it chose. */
function settle(pacer: FlushPacer, work: (ms: number) => { events: number; busyMs: number }, flushes = 40) {
  const seen: number[] = [];
  let interval = pacer.intervalMs;
  for (let i = 0; i < flushes; i++) {
    interval = pacer.next({ ...work(interval), intervalMs: interval });
    seen.push(interval);
  }
  return seen;
}

describe('FlushPacer: the writer paced by its cost (docs/verification-log.md#writer-cpu)', () => {
  test('a quiet server keeps the base interval (a costly call, but a small share of a core)', () => {
    const pacer = new FlushPacer(OPTS);
    // 300 calls/s over 300 keys at 40 µs a row: 40 µs per call, but 1.2% of a core at most.
    const seen = settle(pacer, model(300, 300, 40));
    assert.ok(Math.max(...seen) <= 1300, `stayed near 1 s: ${seen.join(', ')}`);
    // 50 calls a second of one key: nowhere near either bound.
    assert.deepEqual(new Set(settle(new FlushPacer(OPTS), model(1, 50, 40))), new Set([1000]));
    // 800 calls a second at 20 ms a flush (a remote database: mostly waiting): under the rate floor.
    const remote = settle(new FlushPacer(OPTS), (ms) => ({ events: (800 * ms) / 1000, busyMs: 20 }));
    assert.deepEqual(new Set(remote), new Set([1000]));
    // The same at 2000 calls a second is stretched: the floor is what kept it.
    const busier = settle(new FlushPacer(OPTS), (ms) => ({ events: (2000 * ms) / 1000, busyMs: 20 }));
    assert.ok((busier.at(-1) ?? 0) > 1000);
  });

  test('a busy server stretches until the writer is within its budget per call, and no further', () => {
    const pacer = new FlushPacer(OPTS);
    const work = model(10_000, 17_000, 40);
    const seen = settle(pacer, work);
    const last = seen.at(-1) ?? 0;
    const { events, busyMs } = work(last);
    const perCallUs = (busyMs * 1000) / events;
    assert.ok(last > 10_000 && last <= 60_000, `settled at ${last} ms`);
    // Aimed at three quarters of the budget, so a noisy flush stays within it.
    assert.ok(perCallUs <= 0.8, `writer ${perCallUs.toFixed(2)} µs per call at ${last} ms`);
    // At 1 s the same workload costs ~14 µs per call: that is what the stretch saves.
    const base = work(1000);
    assert.ok((base.busyMs * 1000) / base.events > 10);
    // Settled, not oscillating: the last few intervals are within 5% of each other.
    const tail = seen.slice(-5);
    assert.ok(Math.max(...tail) / Math.min(...tail) < 1.05, tail.join(', '));
  });

  test('never past the ceiling; back to the base interval once the traffic stops', () => {
    const pacer = new FlushPacer(OPTS);
    // A flood of distinct combinations: every call a row, stretching never pays; capped at max.
    const seen = settle(pacer, (ms) => ({ events: 17 * ms, busyMs: 17 * ms * 0.04 }));
    assert.equal(Math.max(...seen), 60_000);
    const after = settle(pacer, () => ({ events: 0, busyMs: 0 }), 12);
    assert.equal(after.at(-1), 1000, after.join(', '));
  });

  test('a ceiling at or below the base interval turns it off', () => {
    const pacer = new FlushPacer({ ...OPTS, maxMs: 1000 });
    assert.deepEqual(new Set(settle(pacer, model(10_000, 17_000, 40))), new Set([1000]));
  });
});

/** A writer port double whose every job with events takes `busyMs` of CPU; records what it got. */
class SlowWriter implements UsageWriter {
  jobs: { events: number; credits: number; at: number }[] = [];
  constructor(private readonly busyMs: number) {}
  write(job: FlushJob): Promise<JobResult> {
    const events = countEvents(job.batches);
    const start = performance.now();
    if (events > 0) while (performance.now() - start < this.busyMs) Math.sqrt(start);
    let credits = 0;
    for (const n of job.extras?.credits.values() ?? []) credits += n;
    this.jobs.push({ events, credits, at: start });
    return Promise.resolve({ extras: true, events });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const event = (i: number): VerificationEvent => ({
  at: Date.now(),
  keyId: `key_${i % 500}`,
  keyStart: null,
  environment: 'production',
  permissions: ['agents:invoke'],
  resource: null,
  code: 'VALID',
  ip: '127.0.0.1',
  userAgent: 'test',
  latencyUs: 10,
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('UsageBatcher paced: events wait longer under load, credit use does not', () => {
  test('stretches under a costly writer, writes credits every tick meanwhile, counts every event, and relaxes', async () => {
    const writer = new SlowWriter(8);
    const limiter = new MemoryLimiter();
    const metrics = new Metrics({ defaultMetrics: false });
    const batcher = new UsageBatcher(writer, limiter, metrics, pino({ level: 'silent' }), {
      flushIntervalMs: 20,
      flushMaxMs: 400,
      writerBudgetNs: 1000,
      maxBufferedLogs: 1_000_000,
    });
    let recorded = 0;
    try {
      // ~100 events and one credit use per 5 ms, for 1.5 s: 8 ms per flush is 40% of a 20 ms tick.
      for (let t = 0; t < 300; t++) {
        for (let i = 0; i < 100; i++) batcher.record(event(recorded++));
        limiter.consume({ keyId: 'key_c', ratelimits: [], credits: 1_000_000, cost: 1, nowMs: Date.now() });
        await sleep(5);
      }
      assert.ok(batcher.flushIntervalMs >= 200, `stretched to ${batcher.flushIntervalMs} ms`);
      const gauge = await metrics.registry.getSingleMetricAsString('keywarden_usage_flush_interval_seconds');
      assert.match(gauge, /keywarden_usage_flush_interval_seconds 0\.[2-4]/);
      const withEvents = writer.jobs.filter((j) => j.events > 0);
      const creditOnly = writer.jobs.filter((j) => j.events === 0 && j.credits > 0);
      // Far fewer event writes than ticks, while credit use kept being written between them.
      assert.ok(withEvents.length < 40, `${withEvents.length} writes of events`);
      assert.ok(creditOnly.length > withEvents.length, `${creditOnly.length} credit-only writes`);
      // Traffic stops: the interval steps back to the base.
      await sleep(1500);
      assert.equal(batcher.flushIntervalMs, 20);
    } finally {
      await batcher.close();
    }
    const written = writer.jobs.reduce((n, j) => n + j.events, 0);
    assert.equal(written, recorded, 'every event written once');
  });
});

describe('UsageBatcher paced: a buffer 90% full is written whatever the interval', () => {
  test('events past 90% of KEYWARDEN_USAGE_MAX_BUFFERED_LOGS go out at the next tick', async () => {
    const writer = new SlowWriter(8);
    const metrics = new Metrics({ defaultMetrics: false });
    const batcher = new UsageBatcher(writer, new MemoryLimiter(), metrics, pino({ level: 'silent' }), {
      flushIntervalMs: 20,
      flushMaxMs: 60_000,
      maxBufferedLogs: 20_000,
    });
    let recorded = 0;
    try {
      for (let t = 0; t < 400 && batcher.flushIntervalMs < 500; t++) {
        for (let i = 0; i < 100; i++) batcher.record(event(recorded++));
        await sleep(5);
      }
      const interval = batcher.flushIntervalMs;
      assert.ok(interval >= 500, `stretched to ${interval} ms`);
      // An asked-for flush writes without changing the pace: the next write is an interval away.
      await batcher.flush();
      assert.equal(batcher.flushIntervalMs, interval);
      const before = writer.jobs.length;
      for (let i = 0; i < 18_500; i++) batcher.record(event(recorded++));
      await sleep(150);
      const big = writer.jobs.slice(before).find((j) => j.events >= 18_000);
      assert.ok(big !== undefined, 'written within a few ticks, long before the interval');
      assert.equal(batcher.dropped, 0, 'nothing past the buffer');
    } finally {
      await batcher.close();
    }
    assert.equal(
      writer.jobs.reduce((n, j) => n + j.events, 0),
      recorded,
    );
  });
});
