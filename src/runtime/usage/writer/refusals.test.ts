import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { VerificationEvent } from '../../../core/ports.js';
import { SEEN_OTHER, emptyBatch, splitSeen, type UsageBatch } from '../../../storage/usage-batch.js';
import { EventColumns } from '../events.js';
import { MinuteLog } from '../minutes.js';
import { runJob, type FlushJob, type JobProgress } from './port.js';
import { isRefusal } from './refusals.js';

const at = Date.parse('2026-06-01T10:00:00.000Z');
const ev = (i: number, over: Partial<VerificationEvent> = {}): VerificationEvent => ({
  at: at + i,
  keyId: `key_${i % 7}`,
  keyStart: 'kw_prod_4fTq',
  environment: 'production',
  permissions: ['agents:invoke'],
  resource: `agt_${i}`,
  grants: ['agents:invoke'],
  code: 'VALID',
  ip: `10.0.${i >> 8}.${i & 255}`,
  userAgent: 'crm-bot/1.0',
  latencyUs: 5,
  ...over,
});

const refusal = (): Error => Object.assign(new Error('violates check constraint "x"'), { code: '23514' });

/**
 * A database that refuses a transaction holding a log row `refuses` says no to (by what the row
 * holds, as a constraint would), and keeps what it commits.
 */
function database(refuses: (ip: string | null, environment: string) => boolean) {
  const db = {
    progress: [] as number[],
    commits: 0,
    refusals: 0,
    calls: 0,
    daily: 0,
    seen: new Map<string, number>(),
    ips: new Set<string>(),
  };
  const commit = (b: UsageBatch, done: JobProgress): void => {
    const rows = [...b.logs, ...b.updates];
    if (rows.some((r) => refuses(r.ip, r.environment))) {
      db.refusals++;
      throw refusal();
    }
    db.commits++;
    // What the worker thread records with each transaction: a prefix of the job's events, growing.
    assert.ok(
      done.events >= (db.progress.at(-1) ?? 0),
      `progress ${done.events} after ${db.progress.at(-1)}`,
    );
    db.progress.push(done.events);
    for (const r of rows) {
      db.calls += r.count;
      if (r.ip !== null) db.ips.add(r.ip);
    }
    for (const n of b.daily.values()) db.daily += n;
    for (const [k, n] of b.seen) {
      const s = splitSeen(k);
      const v = `${s.kind}=${s.value}`;
      db.seen.set(v, (db.seen.get(v) ?? 0) + n);
    }
  };
  return { db, commit };
}

const jobOf = (events: VerificationEvent[]): FlushJob => {
  const cols = new EventColumns();
  for (const e of events) cols.push(e);
  return { token: 't', batches: [{ events: cols.seal(), from: 0 }], extras: null };
};

describe('usage rows the database refuses', () => {
  test('database errors: refusals of what a row holds, and the failures that may pass', () => {
    for (const code of ['22003', '22P05', '23514', '23502', 'SQLITE_CONSTRAINT_CHECK', 'SQLITE_TOOBIG'])
      assert.equal(isRefusal(Object.assign(new Error('x'), { code })), true, code);
    // Connection lost, admin shutdown, serialization, a raised exception, a trigger's RAISE, locks, a full disk.
    for (const code of [
      'ECONNRESET',
      '57P01',
      '40001',
      'P0001',
      'SQLITE_CONSTRAINT_TRIGGER',
      'SQLITE_BUSY',
      'SQLITE_FULL',
      'SQLITE_RANGE',
    ])
      assert.equal(isRefusal(Object.assign(new Error('x'), { code })), false, code);
    assert.equal(isRefusal(new Error('no code')), false);
    assert.equal(isRefusal(null), false);
  });

  test('one refused call: the others are written with their details, it is counted without them', async () => {
    const events = Array.from({ length: 5000 }, (_, i) => ev(i, i === 3210 ? { ip: '10.66.6.6' } : {}));
    const { db, commit } = database((ip) => ip === '10.66.6.6');
    const r = await runJob(jobOf(events), commit, 1000, new MinuteLog(50_000));
    assert.equal(r.error, undefined);
    assert.deepEqual([r.events, r.refused?.salvaged], [5000, 1]);
    assert.match(r.refused?.reason ?? '', /^23514: violates check constraint/);
    assert.equal(db.calls, 5000, 'every call counted');
    assert.equal(db.daily, 5000);
    assert.equal(db.progress.at(-1), 5000);
    assert.equal(db.ips.size, 4999, 'every other call kept its IP');
    assert.equal(db.ips.has('10.66.6.6'), false);
    // Its seen values: the IP and user agent as (other), its permission as the grant that allowed it.
    assert.equal(db.seen.get(`ip=${SEEN_OTHER}`), 1);
    assert.equal(db.seen.get(`ua=${SEEN_OTHER}`), 1);
    assert.equal(db.seen.get('permission=agents:invoke'), 1);
    assert.equal(db.seen.get('permission=agents:invoke:agt_3210'), undefined);
    // Five transactions, and a bisection of the refused one: about two per halving.
    assert.ok(
      db.commits + db.refusals <= 5 + 2 * Math.ceil(Math.log2(1000)) + 2,
      `${db.commits + db.refusals}`,
    );
  });

  test('a call refused even without its details stops the job there, kept for the next try; nothing is dropped', async () => {
    const events = Array.from({ length: 300 }, (_, i) =>
      ev(i, i === 107 ? { environment: 'development' } : {}),
    );
    const { db, commit } = database((_ip, environment) => environment === 'development');
    const r = await runJob(jobOf(events), commit, 100, new MinuteLog(50_000));
    assert.match(r.error?.message ?? '', /check constraint/);
    assert.equal(r.events, 107, 'every call before it is written');
    assert.equal(db.calls, 107);
    assert.equal(r.refused, undefined);
    assert.ok(
      db.commits + db.refusals <= 2 + 2 * Math.ceil(Math.log2(100)) + 2,
      `${db.commits + db.refusals}`,
    );
  });

  test('most rows refused (a constraint an operator added): every call counted in bounded transactions', async () => {
    const events = Array.from({ length: 5000 }, (_, i) => ev(i));
    const { db, commit } = database((ip) => ip !== null);
    const r = await runJob(jobOf(events), commit, 1000, new MinuteLog(50_000));
    assert.equal(r.error, undefined);
    assert.deepEqual([r.events, r.refused?.salvaged], [5000, 5000]);
    assert.equal(db.calls, 5000);
    // Split down to single calls for the first 16 only, then in eighths (602 here): not one per call.
    assert.ok(db.commits + db.refusals < 800, `${db.commits + db.refusals} transactions`);
  });

  test('refused calls past the first 16: the parts of their transactions not refused keep their details', async () => {
    const bad = new Set(Array.from({ length: 40 }, (_, i) => 311 + i * 487));
    const events = Array.from({ length: 20_000 }, (_, i) => ev(i, bad.has(i) ? { ip: '10.66.6.6' } : {}));
    const { db, commit } = database((ip) => ip === '10.66.6.6');
    const r = await runJob(jobOf(events), commit, 1000, new MinuteLog(50_000));
    assert.equal(r.error, undefined);
    assert.equal(db.calls, 20_000, 'every call counted');
    const stripped = r.refused?.salvaged ?? 0;
    // 16 calls alone; each of the other 24 costs a part of at most 16 calls (394 here).
    assert.ok(stripped >= 40 && stripped <= 16 + 24 * 16, `${stripped} calls without details`);
    assert.equal(db.ips.size, 20_000 - stripped, 'the rest kept their IPs');
    assert.ok(db.commits + db.refusals < 1000, `${db.commits + db.refusals} transactions (652 here)`);
  });

  test("split parts get ids of their own first call: a row's id never lies after its first call", async () => {
    // Calls recorded out of time order (a slow request is recorded late), a refused one among them.
    const t = Date.parse('2026-06-01T10:00:00.000Z');
    const events = [
      ev(0, { at: t + 20_000, ip: '10.1.1.1', resource: null, keyId: 'key_a' }),
      ev(1, { at: t + 5_000, ip: '10.66.6.6' }),
      ev(2, { at: t + 30_000, ip: '10.1.1.2' }),
      ev(3, { at: t + 10_000, ip: '10.1.1.1', resource: null, keyId: 'key_a' }),
    ];
    const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    const timeOf = (id: string): number =>
      Array.from(id.slice(3, 10)).reduce((n, c) => n * 62 + B62.indexOf(c), 0);
    // What is stored after each commit (a job may stop after any of them): every row's first call.
    const stored = new Map<string, string>();
    const { db, commit } = database((ip) => ip === '10.66.6.6');
    const r = await runJob(
      jobOf(events),
      (b, done) => {
        commit(b, done);
        for (const x of [...b.logs, ...b.updates]) {
          const prev = stored.get(x.id);
          stored.set(x.id, prev === undefined || x.at < prev ? x.at : prev);
        }
        for (const [id, at] of stored) {
          const a = Date.parse(at);
          assert.ok(
            a <= timeOf(id),
            `${id}: first call ${at} after the id's time ${new Date(timeOf(id)).toISOString()}`,
          );
          assert.ok(
            timeOf(id) < Math.floor(a / 60_000) * 60_000 + 60_000,
            `${id} outside the minute of ${at}`,
          );
        }
      },
      1000,
      new MinuteLog(50_000),
    );
    assert.equal(r.error, undefined);
    assert.equal(db.calls, 4);
  });

  test('a failure that may pass stops the job where it is, as before', async () => {
    const events = Array.from({ length: 300 }, (_, i) => ev(i));
    let n = 0;
    const r = await runJob(
      jobOf(events),
      () => {
        if (++n === 2) throw Object.assign(new Error('terminating connection'), { code: '57P01' });
      },
      100,
      new MinuteLog(50_000),
    );
    assert.equal(r.error?.message, 'terminating connection');
    assert.equal(r.events, 100);
    assert.equal(r.refused, undefined);
  });

  test('refused extras are written apart, salvaged; refused even so, they stop the job (credits are not dropped)', async () => {
    const events = Array.from({ length: 50 }, (_, i) => ev(i));
    const extras = emptyBatch();
    extras.credits.set('key_1', 4);
    extras.logs.push(spilledRow('10.66.6.6'));
    const job = { ...jobOf(events), extras };
    const { db, commit } = database((ip) => ip === '10.66.6.6');
    const r = await runJob(job, commit, 1000, new MinuteLog(50_000));
    assert.deepEqual([r.extras, r.events, r.refused?.salvaged, r.error], [true, 50, 2, undefined]);
    assert.equal(db.ips.has('10.66.6.6'), false);
    assert.equal(db.calls, 52);
    const stuck = database((_ip, environment) => environment === 'development');
    extras.logs[0] = spilledRow('10.0.0.1', 'development');
    const s = await runJob({ ...jobOf(events), extras }, stuck.commit, 1000, new MinuteLog(50_000));
    assert.deepEqual([s.extras, s.events], [false, 0]);
    assert.match(s.error?.message ?? '', /check constraint/);
  });
});

/** A minute row the batcher built on the main thread (buffer full), of two calls. */
function spilledRow(ip: string, environment = 'production') {
  return {
    id: `vl_spill_${ip}`,
    at: new Date(at).toISOString(),
    last_at: new Date(at + 1).toISOString(),
    key_id: 'key_1',
    key_start: 'kw_prod_4fTq',
    environment,
    permissions: 'agents:invoke',
    resource: null,
    code: 'VALID',
    ip,
    user_agent: 'crm-bot/1.0',
    latency_us: 5,
    latency_sum_us: 10,
    count: 2,
    overflow: 0,
    shadow: 0,
  };
}
