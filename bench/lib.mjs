// Shared helpers of the benchmark suite: machine facts, timing, percentiles, results files.
import { hash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { checksum, createHasher, generateKey, maskParts } from '../dist/core/keys.js';
import { newId } from '../dist/core/ids.js';
import { loadConfig } from '../dist/config.js';
import { createKeywarden } from '../dist/main.js';
import { createLogger } from '../dist/logger.js';

export const quick = process.argv.includes('--quick');
export const RESULTS = new URL('./results/', import.meta.url).pathname;

export function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    date: new Date().toISOString(),
  };
}

export function save(name, data) {
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, `${name}.json`);
  writeFileSync(file, JSON.stringify({ benchmark: name, quick, machine: machine(), ...data }, null, 2));
  return file;
}

/** p50/p99/p999 in microseconds from nanosecond samples. */
export function percentiles(ns) {
  const s = Float64Array.from(ns).sort();
  const at = (q) => (s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor(q * s.length))] / 1000);
  return { p50: round(at(0.5)), p99: round(at(0.99)), p999: round(at(0.999)) };
}

export const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Runs `fn(i)` `ops` times (awaiting each) after a warm-up for its rate, then `ops` times more,
 * timing every call, for its latency percentiles (see timeCalls). With `between`, the run is cut
 * into chunks of 10k calls and `between()` runs after each one, timed apart: for verification it
 * is the usage flush (log rows, counters, lastUsedAt) that a server runs on a timer. A synchronous
 * loop never lets that timer fire, so without this the buffer would only grow. `opsPerSec` is the
 * hot path (calls only); `sustainedOpsPerSec` also pays for the writes; `writesUsPerOp` is their
 * cost per call (wall time, wherever they run); `mainUsPerOp` the part of it that kept this
 * thread's event loop busy (on SQLite the writes themselves run on a worker thread: this is the
 * hand-over).
 */
export async function measure(ops, fn, between) {
  return summarise([await timeCalls(ops, fn, between)], between !== undefined);
}

/**
 * `fn` against `baseline` in `rounds` alternating rounds of `ops / rounds` calls each (baseline
 * first), so both see the same machine: on shared cores the speed drifts by tens of percent
 * within a minute, which a baseline measured once, minutes apart from a case, turns into the
 * ratio. Returns `fn`'s figures over all its rounds as `measure` does (latency percentiles over
 * every call), `vsBaseline`, the median of the rounds' ratios of ops/s, with their lowest and
 * highest, and the baseline's passes (`summarise` them, with those of other cases).
 */
export async function measureVs(ops, rounds, baseline, fn, between) {
  const per = Math.ceil(ops / rounds);
  const base = [];
  const runs = [];
  for (let r = 0; r < rounds; r++) {
    base.push(await timeCalls(per, baseline));
    runs.push(await timeCalls(per, fn, between));
  }
  const ratios = runs
    .map((x, r) => x.calls / x.callNs / (base[r].calls / base[r].callNs))
    .sort((a, b) => a - b);
  return {
    ...summarise(runs, between !== undefined),
    vsBaseline: round(median(ratios), 3),
    vsBaselineRange: [round(ratios[0], 3), round(ratios.at(-1), 3)],
    baselinePasses: base,
  };
}

/** The middle of numbers sorted ascending (the mean of the two middle ones for an even count). */
export const median = (sorted) => {
  const h = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2;
};

/**
 * One pass of `measure` (its warm-up included, untimed), in two parts. The rate: chunks of calls
 * timed as a whole, no timer per call (reading the clock twice around a call costs 0.1–0.3 µs here,
 * as much as a `MALFORMED` answer, and would be counted as the call's). The latency: the same calls
 * again, each timed on its own (the percentiles include that timer). `between` runs after every
 * chunk of both parts, timed only in the first.
 */
async function timeCalls(ops, fn, between) {
  // Untimed warm-up (a tenth of the run, at most 20k calls) so the JIT has optimised the path.
  for (let i = 0; i < Math.min(20_000, Math.floor(ops / 10)); i++) {
    const r = fn(i);
    if (r instanceof Promise) await r;
  }
  await between?.();
  const chunk = between === undefined ? ops : 10_000;
  let callNs = 0;
  let betweenNs = 0;
  let mainMs = 0;
  for (let from = 0; from < ops; from += chunk) {
    const to = Math.min(ops, from + chunk);
    const t0 = process.hrtime.bigint();
    for (let i = from; i < to; i++) {
      const r = fn(i);
      if (r instanceof Promise) await r;
    }
    const t1 = process.hrtime.bigint();
    callNs += Number(t1 - t0);
    if (between !== undefined) {
      const elu = performance.eventLoopUtilization();
      await between();
      betweenNs += Number(process.hrtime.bigint() - t1);
      mainMs += performance.eventLoopUtilization(elu).active;
    }
  }
  const samples = new Float64Array(ops);
  for (let from = 0; from < ops; from += chunk) {
    for (let i = from; i < Math.min(ops, from + chunk); i++) {
      const a = process.hrtime.bigint();
      const r = fn(i);
      if (r instanceof Promise) await r;
      samples[i] = Number(process.hrtime.bigint() - a);
    }
    await between?.();
  }
  return { calls: ops, callNs, betweenNs, mainMs, samples };
}

/**
 * The figures of one or more passes: ops/s is the median of the passes' rates (one pass: its
 * rate), the percentiles are over every call, the write costs over all passes.
 */
export function summarise(passes, withWrites) {
  const rates = passes.map((p) => p.calls / (p.callNs / 1e9)).sort((a, b) => a - b);
  const all = new Float64Array(passes.reduce((n, p) => n + p.calls, 0));
  let at = 0;
  for (const p of passes) {
    all.set(p.samples, at);
    at += p.calls;
  }
  const out = { opsPerSec: Math.round(median(rates)), ...percentiles(all) };
  if (!withWrites) return out;
  const sum = (k) => passes.reduce((n, p) => n + p[k], 0);
  const calls = sum('calls');
  return {
    ...out,
    sustainedOpsPerSec: Math.round(calls / ((sum('callNs') + sum('betweenNs')) / 1e9)),
    writesUsPerOp: round(sum('betweenNs') / 1000 / calls),
    mainUsPerOp: round((sum('mainMs') * 1000) / calls),
  };
}

export function table(rows) {
  const keys = Object.keys(rows[0] ?? {});
  const width = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  const line = (vals) => vals.map((v, i) => String(v).padEnd(width[i])).join('  ');
  console.log(line(keys));
  console.log(line(width.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(keys.map((k) => r[k])));
}

export function progress(label, done, total) {
  if (!process.stderr.isTTY && done !== total && done % Math.max(1, Math.floor(total / 10)) !== 0) return;
  const w = 30;
  const f = Math.round((done / total) * w);
  process.stderr.write(
    `\r${label} [${'#'.repeat(f)}${'.'.repeat(w - f)}] ${done}/${total}${done === total ? '\n' : process.stderr.isTTY ? '' : '\n'}`,
  );
}

const BENCH_SECRET = 'bench-secret-for-keywarden-benchmarks-only-0123456789';

/** A fresh embedded Keywarden in a temp dir (or a PostgreSQL schema), silent, with a large cache. */
export async function freshKeywarden(extraEnv = {}, opts = {}) {
  const dir = mkdtempSync(join(os.tmpdir(), 'kw-bench-'));
  const config = loadConfig({
    KEYWARDEN_DATA_DIR: dir,
    KEYWARDEN_LOG_LEVEL: 'silent',
    KEYWARDEN_CACHE_MAX: '2000000',
    // PostgreSQL needs the server secret given; on SQLite the store generates its own into the
    // data dir, which a server later started on the same dir (http.mjs) reads.
    ...(extraEnv.KEYWARDEN_DATABASE_URL ? { KEYWARDEN_SECRET: BENCH_SECRET } : {}),
    ...extraEnv,
  });
  const kw = await createKeywarden(config, { logger: createLogger('silent'), ...opts });
  const { key: root } = await kw.services.admin.initRoot();
  return { kw, root, dir, config };
}

/**
 * Bulk-creates `n` keys straight through the repositories' tables (the bench helper for 1M keys:
 * the admin API creates about a thousand a second, which would take a quarter of an hour).
 * Returns a pool of plaintext keys (at most `keep`) to verify with.
 */
export async function bulkKeys(kw, n, keep = 10_000, label = 'bulk insert') {
  const hasher = createHasher();
  const pool = [];
  const now = Date.now();
  const at = new Date(now).toISOString();
  const chunk = 2000;
  const t0 = performance.now();
  for (let done = 0; done < n; done += chunk) {
    const rows = [];
    const secrets = [];
    for (let i = done; i < Math.min(n, done + chunk); i++) {
      const key = generateKey('kw', 'prod');
      if (pool.length < keep) pool.push(key);
      const { start, end } = maskParts(key);
      const id = newId('key', now);
      rows.push({
        id,
        name: `bench-prod-k${i}`,
        environment: 'production',
        system: 'bench',
        purpose: 'k',
        owner_team: 'bench',
        owner_contact: 'b@x',
        customer_id: null,
        permissions: '["agents:invoke"]',
        ratelimits: '[]',
        credits_remaining: null,
        credits_refill: null,
        credits_refilled_at: null,
        ip_allowlist: '[]',
        expires_at: null,
        metadata: '{}',
        status: 'active',
        key_start: start,
        key_end: end,
        created_at: at,
        created_by: null,
        updated_at: at,
        last_used_at: null,
        disabled_at: null,
        disabled_reason: null,
        rotated_at: null,
        version: 1,
      });
      secrets.push({ hash: hasher(key), key_id: id, created_at: at, expires_at: null, replaced_at: null });
    }
    await kw.storage.db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += 500) {
        await trx
          .insertInto('keys')
          .values(rows.slice(i, i + 500))
          .execute();
        await trx
          .insertInto('key_secrets')
          .values(secrets.slice(i, i + 500))
          .execute();
      }
    });
    progress(label, Math.min(n, done + chunk), n);
  }
  const secs = (performance.now() - t0) / 1000;
  return { pool, seconds: round(secs), rowsPerSec: Math.round(n / secs) };
}

/** Well-formed keys nobody issued (they exercise the negative cache). */
export const unknownKeys = (n) => Array.from({ length: n }, () => generateKey('kw', 'prod'));
/** Strings with the key's shape and a wrong checksum. */
export const malformedKeys = (n) =>
  Array.from({ length: n }, () => {
    const head = `kw_prod_${randomBytes(24).toString('base64url').replace(/[-_]/g, 'a').slice(0, 30)}`;
    const c = checksum(head);
    return head + (c === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA');
  });
// The same one-shot SHA-256 (base64url) that Keywarden's hasher uses: the bare cost of hashing a key.
export const sha256 = (s) => hash('sha256', s, 'base64url');
