// Benchmark: the verification log's cost (minute rows, docs/verification-log.md), in process on
// SQLite, measured in one run:
// - data directory growth per verification on the HTTP benchmark's workload (random keys from a
//   pool of 10k, one client, one permission) at the rate that benchmark serves (~17k/s, simulated
//   by a clock that advances per call, so minutes of traffic take seconds);
// - the same for a flood of unknown keys from many IPs (1M keys from 10k IPs; --quick: 50k from
//   1k with the row cap scaled down by the same factor, so the overflow path runs too);
// - the writer's CPU per verification: the usage writes run on the main thread
//   (KEYWARDEN_USAGE_WRITER=in-process, the same statements the worker thread runs) and their CPU is
//   read around each flush; at the default flush interval (1 s of simulated time) and at 10 s,
//   since the writer's work is per distinct combination per flush, not per call.
// Every phase also checks that nothing was lost: the sum of the rows' counts equals the calls.
// A last table prints each target of issue 19 against this run's figure, as a ratio.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { freshKeywarden, bulkKeys, quick, round, save, table, unknownKeys } from './lib.mjs';

const RATE = 17_000; // verifications per second of the HTTP benchmark (bench/README.md)
/** The flush interval a server runs by default (KEYWARDEN_USAGE_FLUSH_MS), in simulated time. */
const FLUSH_MS = Number(process.env.KEYWARDEN_USAGE_FLUSH_MS || 1000);
/** A longer interval, run too: the writer's cost is per combination per flush (see the docs). */
const LONG_FLUSH_MS = 10_000;
/** The targets of issue 19, printed against what this run measured. */
const TARGET = { bytesPerVerification: 10, floodMB: 100, writerUs: 1 };
const callsPer = (ms) => Math.round((RATE * ms) / 1000);

const dirBytes = (dir) => readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);

/** A clock the bench moves: `tick` advances it by one call at RATE. */
class SimClock {
  ms = Date.parse('2026-06-01T10:00:00.000Z');
  now() {
    return Math.floor(this.ms);
  }
  tick() {
    this.ms += 1000 / RATE;
  }
}

async function checkpointed(kw, dir) {
  await sql`pragma wal_checkpoint(TRUNCATE)`.execute(kw.storage.db);
  return dirBytes(dir);
}

async function sumCounts(kw) {
  const r = await kw.storage.db
    .selectFrom('verification_log')
    .select([(eb) => eb.fn.sum('count').as('n'), (eb) => eb.fn.countAll().as('rows')])
    .executeTakeFirstOrThrow();
  return { calls: Number(r.n ?? 0), rows: Number(r.rows) };
}

/**
 * Runs `calls` verifications (`input(i)`, `ip(i)`) at RATE of simulated time, flushing every
 * `flushCalls` calls (one flush interval of simulated time); returns the data directory growth,
 * the rows and the writer's CPU (user + system of the whole process around each flush).
 */
async function phase(kw, dir, clock, calls, input, flushCalls = callsPer(FLUSH_MS)) {
  const v = kw.services.verifier;
  const scope = { team: null, userAgent: 'autocannon' };
  const before = await checkpointed(kw, dir);
  const rowsBefore = await sumCounts(kw);
  let writerUs = 0;
  const flush = async () => {
    const c0 = process.cpuUsage();
    await kw.services.ctx.usage.flush();
    const c = process.cpuUsage(c0);
    writerUs += c.user + c.system;
  };
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    const r = v.verify(input(i), scope);
    if (r instanceof Promise) await r;
    clock.tick();
    if (i % flushCalls === flushCalls - 1) await flush();
  }
  await flush();
  const seconds = (performance.now() - t0) / 1000;
  const after = await checkpointed(kw, dir);
  const rows = await sumCounts(kw);
  return {
    growth: after - before,
    rows: rows.rows - rowsBefore.rows,
    counted: rows.calls - rowsBefore.calls,
    writerUsPerCall: writerUs / calls,
    seconds,
  };
}

export async function run() {
  const poolSize = quick ? 2000 : 10_000;
  const steady = quick ? 200_000 : 2_000_000;
  const floodKeys = quick ? 50_000 : 1_000_000;
  const floodIps = quick ? 1000 : 10_000;
  const cap = quick ? 2500 : 50_000;
  const clock = new SimClock();
  const { kw, dir } = await freshKeywarden(
    {
      KEYWARDEN_USAGE_FLUSH_MS: '3600000',
      KEYWARDEN_USAGE_WRITER: 'in-process',
      KEYWARDEN_LOG_MAX_ROWS_PER_MINUTE: String(cap),
    },
    { clock },
  );
  try {
    const { pool } = await bulkKeys(kw, poolSize, poolSize, `insert ${poolSize} keys`);
    // Warm the key cache (the HTTP benchmark measures cached verification too).
    for (const key of pool)
      await kw.services.verifier.verify(
        { key, environment: 'production', permissions: ['agents:invoke'], ip: '127.0.0.1' },
        { team: null, userAgent: 'autocannon' },
      );
    await kw.services.ctx.usage.flush();
    clock.ms = (Math.floor(clock.ms / 60_000) + 1) * 60_000;
    const http = await phase(kw, dir, clock, steady, (i) => ({
      key: pool[(i * 7919) % pool.length],
      environment: 'production',
      permissions: ['agents:invoke'],
      ip: '127.0.0.1',
    }));
    // The same traffic with a longer flush interval (new minutes): fewer, fuller rows per flush.
    clock.ms = (Math.floor(clock.ms / 60_000) + 1) * 60_000;
    const long = await phase(
      kw,
      dir,
      clock,
      steady,
      (i) => ({
        key: pool[(i * 7919) % pool.length],
        environment: 'production',
        permissions: ['agents:invoke'],
        ip: '127.0.0.1',
      }),
      callsPer(LONG_FLUSH_MS),
    );
    // A new minute for the flood.
    clock.ms = (Math.floor(clock.ms / 60_000) + 1) * 60_000;
    const unknown = unknownKeys(floodKeys);
    const flood = await phase(kw, dir, clock, floodKeys, (i) => ({
      key: unknown[i],
      environment: 'production',
      permissions: [],
      ip: `10.${(i % floodIps) >> 8}.${(i % floodIps) & 255}.1`,
    }));
    const text = await kw.services.ctx.metrics.registry.getSingleMetricAsString(
      'keywarden_log_overflow_total',
    );
    const overflowed = Number(/keywarden_log_overflow_total (\d+)/.exec(text)?.[1] ?? 0);
    const rows = [
      {
        workload: `HTTP mix: ${steady} calls, ${poolSize} keys, 1 client, flush every ${FLUSH_MS / 1000} s`,
        'bytes/verification': round(http.growth / steady, 2),
        'log rows': http.rows,
        'writer µs/verification': round(http.writerUsPerCall, 3),
        'counted = served': http.counted === steady,
      },
      {
        workload: `same, flush every ${LONG_FLUSH_MS / 1000} s`,
        'bytes/verification': round(long.growth / steady, 2),
        'log rows': long.rows,
        'writer µs/verification': round(long.writerUsPerCall, 3),
        'counted = served': long.counted === steady,
      },
      {
        workload: `flood: ${floodKeys} unknown keys, ${floodIps} IPs (cap ${cap}/min)`,
        'bytes/verification': round(flood.growth / floodKeys, 2),
        'log rows': flood.rows,
        'writer µs/verification': round(flood.writerUsPerCall, 3),
        'counted = served': flood.counted === floodKeys,
      },
    ];
    table(rows);
    // Each target against this run's figure (ratio > 1: missed by that factor). The flood's bound
    // is for 1M keys: --quick floods 50k, so its growth is scaled by 1M / floodKeys.
    const floodMB = (flood.growth / 1e6) * (1_000_000 / floodKeys);
    const targets = [
      ['data dir growth, HTTP mix (B/verification)', http.growth / steady, TARGET.bytesPerVerification],
      ['flood of 1M unknown keys (MB)', floodMB, TARGET.floodMB],
      [`writer CPU, flush ${FLUSH_MS / 1000} s (µs/verification)`, http.writerUsPerCall, TARGET.writerUs],
      [
        `writer CPU, flush ${LONG_FLUSH_MS / 1000} s (µs/verification)`,
        long.writerUsPerCall,
        TARGET.writerUs,
      ],
      ['writer CPU, flood (µs/verification)', flood.writerUsPerCall, TARGET.writerUs],
    ].map(([target, measured, bound]) => ({
      target,
      measured: round(measured, 3),
      bound,
      'measured / bound': round(measured / bound, 2),
      verdict: measured <= bound ? 'met' : 'missed',
    }));
    table(targets);
    const summary = {
      simulatedRate: RATE,
      httpBytesPerVerification: round(http.growth / steady, 2),
      httpWriterUsPerVerification: round(http.writerUsPerCall, 3),
      floodGrowthMB: round(flood.growth / 1e6, 1),
      floodRows: flood.rows,
      floodOverflowedCalls: overflowed,
      floodWriterUsPerVerification: round(flood.writerUsPerCall, 3),
      longFlushWriterUsPerVerification: round(long.writerUsPerCall, 3),
      writerVsTarget: round(http.writerUsPerCall / TARGET.writerUs, 2),
      nothingLost: http.counted === steady && long.counted === steady && flood.counted === floodKeys,
    };
    console.log('summary', summary);
    save('log', { quick, poolSize, steady, floodKeys, floodIps, cap, rows, targets, summary });
    return summary;
  } finally {
    await kw.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
