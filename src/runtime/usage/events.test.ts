import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { VerificationEvent } from '../../core/ports.js';
import { emptyBatch, splitDaily, splitSeen, type UsageBatch } from '../../storage/usage-batch.js';
import type { VerificationLogTable } from '../../storage/schema.js';
import { IsoClock, countEvent } from './counting.js';
import { EventDecoder } from './decoder.js';
import { EventColumns, sliceEvents } from './events.js';
import { MinuteLog } from './minutes.js';
import { runJob, skipEvents, type FlushJob, type JobProgress } from './writer/port.js';

const at = Date.parse('2026-06-01T23:59:59.999Z');
const ev = (over: Partial<VerificationEvent> = {}): VerificationEvent => ({
  at,
  keyId: 'key_a',
  keyStart: 'kw_prod_4fTq',
  environment: 'production',
  permissions: ['agents:invoke'],
  resource: null,
  code: 'VALID',
  ip: '203.0.113.7',
  userAgent: 'crm-bot/1.0',
  latencyUs: 12.6,
  ...over,
});

const decodeAll = (events: VerificationEvent[], minutes = new MinuteLog(50_000)): UsageBatch => {
  const cols = new EventColumns(2);
  for (const e of events) cols.push(e);
  const b = emptyBatch();
  const sealed = cols.seal();
  new EventDecoder(sealed, new IsoClock(), minutes).decode(b, 0, sealed.n);
  return b;
};

const counts = (m: Map<string, number>, split: (k: string) => object): object[] =>
  [...m].map(([k, n]) => ({ ...split(k), n }));

/** The oracle: minute rows made the obvious way, one event at a time, keyed by every field. */
function naiveRows(
  events: VerificationEvent[],
): Map<string, { count: number; first: number; last: number; max: number }> {
  const out = new Map<string, { count: number; first: number; last: number; max: number }>();
  for (const e of events) {
    const k = JSON.stringify([
      Math.floor(e.at / 60_000),
      e.keyId,
      e.keyStart,
      e.environment,
      e.code,
      e.ip,
      e.userAgent?.slice(0, 256) ?? null,
      e.permissions.length === 0 ? null : e.permissions.join(','),
      e.resource,
    ]);
    const r = out.get(k) ?? { count: 0, first: Infinity, last: -Infinity, max: 0 };
    r.count++;
    r.first = Math.min(r.first, e.at);
    r.last = Math.max(r.last, e.at);
    r.max = Math.max(r.max, Math.round(e.latencyUs));
    out.set(k, r);
  }
  return out;
}

const rowKey = (r: VerificationLogTable): string =>
  JSON.stringify([
    Math.floor(Date.parse(r.at) / 60_000),
    r.key_id,
    r.key_start,
    r.environment,
    r.code,
    r.ip,
    r.user_agent,
    r.permissions,
    r.resource,
  ]);

describe('usage events: encoded on the main thread, minute rows built where they are written', () => {
  test('one row per minute per combination, with every field as the log stores it', () => {
    const long = 'x'.repeat(300);
    const b = decodeAll([
      ev({ at: at - 30_000, latencyUs: 20.2 }),
      ev({ at: at - 10, latencyUs: 4 }),
      ev({ latencyUs: 12.6 }),
      ev({
        at: at + 1,
        keyId: null,
        keyStart: null,
        environment: 'staging',
        permissions: [],
        code: 'MALFORMED',
        ip: null,
        userAgent: null,
        latencyUs: 0.4,
      }),
      ev({
        at: at + 2,
        permissions: ['a:b', 'c:d:e'],
        resource: 'r1',
        userAgent: long,
        code: 'IP_NOT_ALLOWED',
      }),
      // Another client IP is another row.
      ev({ at: at - 5, ip: '203.0.113.8' }),
    ]);
    assert.equal(b.logs.length, 4);
    const [first, ip2, second, third] = [...b.logs].sort((x, y) => x.at.localeCompare(y.at));
    assert.match(first?.id ?? '', /^vl_[0-9A-Za-z]{19}$/);
    assert.deepEqual(
      { ...first, id: '' },
      {
        id: '',
        at: '2026-06-01T23:59:29.999Z',
        last_at: '2026-06-01T23:59:59.999Z',
        key_id: 'key_a',
        key_start: 'kw_prod_4fTq',
        environment: 'production',
        permissions: 'agents:invoke',
        resource: null,
        code: 'VALID',
        ip: '203.0.113.7',
        user_agent: 'crm-bot/1.0',
        latency_us: 20,
        latency_sum_us: 37,
        count: 3,
        overflow: 0,
        shadow: 0,
      },
    );
    assert.equal(ip2?.ip, '203.0.113.8');
    assert.equal(ip2?.count, 1);
    assert.deepEqual(
      { ...second, id: '' },
      {
        id: '',
        at: '2026-06-02T00:00:00.000Z',
        last_at: '2026-06-02T00:00:00.000Z',
        key_id: null,
        key_start: null,
        environment: 'staging',
        permissions: null,
        resource: null,
        code: 'MALFORMED',
        ip: null,
        user_agent: null,
        latency_us: 0,
        latency_sum_us: 0,
        count: 1,
        overflow: 0,
        shadow: 0,
      },
    );
    assert.equal(third?.permissions, 'a:b,c:d:e');
    assert.equal(third?.resource, 'r1');
    assert.equal(third?.user_agent, 'x'.repeat(256), 'user agents are kept to 256 characters');
  });

  test('shadow events (a narrowing would have refused) are rows of their own, marked, and no usage', () => {
    const shadow = ev({ code: 'INSUFFICIENT_PERMISSIONS', permissions: ['billing:read'], shadow: true });
    const b = decodeAll([ev({ permissions: ['billing:read'] }), shadow, shadow]);
    const rows = [...b.logs].sort((x, y) => x.shadow - y.shadow);
    assert.deepEqual(
      rows.map((r) => [r.code, r.shadow, r.count, r.permissions]),
      [
        ['VALID', 0, 1, 'billing:read'],
        ['INSUFFICIENT_PERMISSIONS', 1, 2, 'billing:read'],
      ],
    );
    assert.deepEqual(
      counts(b.daily, splitDaily).map((d) => (d as { code: string }).code),
      ['VALID'],
      'the shadow calls were counted as the calls they are (VALID), not again',
    );
    // Past the row cap they go to an overflow row of their own, still marked.
    const capped = decodeAll([ev(), ev({ ...shadow, ip: '203.0.113.9' })], new MinuteLog(1));
    const over = capped.logs.find((r) => r.overflow === 1);
    assert.deepEqual([over?.code, over?.shadow, over?.count], ['INSUFFICIENT_PERMISSIONS', 1, 1]);
    const spilled = emptyBatch();
    countEvent(spilled, shadow, new IsoClock());
    assert.equal(spilled.daily.size, 0);
  });

  test('rows match the obvious per-event aggregation on a varied batch (differential)', () => {
    const pick = <T>(xs: T[], i: number, salt: number): T => xs[(i * salt + (i >> 3)) % xs.length] as T;
    const events = Array.from({ length: 5000 }, (_, i) =>
      ev({
        at: at - 150_000 + i * 37,
        keyId: pick(['key_a', 'key_b', null], i, 7),
        keyStart: pick(['kw_prod_a', null], i, 3),
        ip: pick(['10.0.0.1', '10.0.0.2', null], i, 5),
        userAgent: pick(['a/1', null, 'b/2'], i, 3),
        permissions: pick([['agents:invoke'], ['agents:invoke', 'logs:read:l1'], []], i, 11),
        resource: pick([null, 'agt_7'], i, 13),
        environment: pick(['production', 'staging'], i, 19),
        code: pick(['VALID', 'VALID', 'RATE_LIMITED', 'NOT_FOUND'], i, 17),
        latencyUs: (i * 13) % 97,
      }),
    );
    const b = decodeAll(events);
    const want = naiveRows(events);
    assert.equal(b.logs.length, want.size);
    assert.ok(want.size > 100, 'the mix is varied');
    for (const r of b.logs) {
      const w = want.get(rowKey(r));
      assert.ok(w !== undefined, `an unexpected row ${rowKey(r)}`);
      assert.deepEqual(
        [r.count, r.at, r.last_at, r.latency_us],
        [w.count, new Date(w.first).toISOString(), new Date(w.last).toISOString(), w.max],
      );
    }
    assert.equal(
      b.logs.reduce((n, r) => n + r.count, 0),
      events.length,
    );
  });

  test('the rows of a minute keep their id across batches; past the cap, one overflow row per code', () => {
    const minutes = new MinuteLog(5);
    const flood = (from: number, n: number): VerificationEvent[] =>
      Array.from({ length: n }, (_, i) =>
        ev({
          at: at - 1000 + i,
          keyId: null,
          keyStart: `kw_prod_${from + i}`,
          code: 'NOT_FOUND',
          ip: `10.1.${i % 3}.1`,
        }),
      );
    const one = decodeAll(flood(0, 20), minutes);
    const two = decodeAll(flood(0, 20), minutes);
    const all = (b: UsageBatch): VerificationLogTable[] => [...b.logs, ...b.updates];
    const regular = (b: UsageBatch): VerificationLogTable[] => all(b).filter((r) => r.overflow === 0);
    const over = (b: UsageBatch): VerificationLogTable[] => all(b).filter((r) => r.overflow === 1);
    assert.equal(regular(one).length, 5);
    assert.equal(over(one).length, 1);
    assert.deepEqual(
      over(one).map((r) => [r.code, r.count, r.key_start, r.ip, r.environment]),
      [['NOT_FOUND', 15, null, null, '*']],
    );
    assert.deepEqual(
      regular(two)
        .map((r) => r.id)
        .sort(),
      regular(one)
        .map((r) => r.id)
        .sort(),
      'the same combinations in the same minute: the same rows (upserted)',
    );
    assert.equal(over(two)[0]?.id, over(one)[0]?.id);
    assert.deepEqual(
      [one.updates.length, two.logs.length, two.updates.length],
      [0, 0, 6],
      'rows of an earlier batch are added to by id (updates), new ones inserted (logs)',
    );
    // Another code in the full minute gets its own overflow row; the next minute starts afresh.
    const rate = decodeAll([ev({ at: at - 5, ip: '192.0.2.1', code: 'RATE_LIMITED' })], minutes);
    assert.deepEqual(
      rate.logs.map((r) => [r.overflow, r.code]),
      [[1, 'RATE_LIMITED']],
    );
    assert.deepEqual(
      rate.daily.size,
      1,
      "an overflowed call of a known key still counts in the key's daily usage",
    );
    assert.equal(rate.seen.size, 0, 'its IP and user agent are not kept: bounded under a flood too');
    const next = decodeAll(
      flood(100, 3).map((e) => ({ ...e, at: e.at + 60_000 })),
      minutes,
    );
    assert.equal(regular(next).length, 3);
  });

  test('counters per key, day and outcome; seen values; last use and permissions of valid calls only', () => {
    const b = decodeAll([
      ev({ resource: 'agt_7', ip: '10.0.0.1', grants: ['agents:invoke'] }),
      ev({
        at: at + 1,
        resource: 'agt_7',
        ip: '10.0.0.2',
        permissions: ['agents:invoke', 'logs:read:l1'],
        grants: ['agents:*', 'logs:read:l1'],
      }),
      ev({ at: at + 2, code: 'INSUFFICIENT_PERMISSIONS', permissions: ['billing:charge'], grants: ['x:y'] }),
      ev({ keyId: null, code: 'NOT_FOUND' }),
    ]);
    assert.deepEqual(counts(b.daily, splitDaily), [
      { key_id: 'key_a', day: '2026-06-01', code: 'VALID', n: 1 },
      { key_id: 'key_a', day: '2026-06-02', code: 'VALID', n: 1 },
      { key_id: 'key_a', day: '2026-06-02', code: 'INSUFFICIENT_PERMISSIONS', n: 1 },
    ]);
    assert.deepEqual(
      counts(b.seen, splitSeen).filter((x) => (x as { kind: string }).kind === 'permission'),
      [
        // Each with the grant that allowed it as what it folds into past the cap (usage-batch.ts).
        {
          key_id: 'key_a',
          day: '2026-06-01',
          kind: 'permission',
          value: 'agents:invoke:agt_7',
          fold: 'agents:invoke',
          n: 1,
        },
        {
          key_id: 'key_a',
          day: '2026-06-02',
          kind: 'permission',
          value: 'agents:invoke:agt_7',
          fold: 'agents:*',
          n: 1,
        },
        // A grant narrowed already is not narrowed again; a value that is a grant never folds.
        { key_id: 'key_a', day: '2026-06-02', kind: 'permission', value: 'logs:read:l1', fold: null, n: 1 },
      ],
    );
    assert.equal(b.seen.size, 3 + 3 + 2, 'permissions, IPs (3 day-IP pairs), user agents (2 days)');
    assert.deepEqual([...b.lastUsed], [['key_a', '2026-06-02T00:00:00.000Z']]);
    assert.equal(b.logs.length, 4, 'no two of these calls share a minute and combination');
  });

  test('the counters of an event without a log row (buffer full) are the same as with one', () => {
    const events = [ev({ resource: 'agt_7' }), ev({ code: 'RATE_LIMITED', userAgent: 'u'.repeat(300) })];
    const decoded = decodeAll(events);
    const counted = emptyBatch();
    const clock = new IsoClock();
    for (const e of events) countEvent(counted, e, clock);
    assert.deepEqual([...counted.daily], [...decoded.daily]);
    assert.deepEqual([...counted.seen], [...decoded.seen]);
    assert.deepEqual([...counted.lastUsed], [...decoded.lastUsed]);
  });

  test('a mixed batch across midnight counts as event by event (many keys, values, codes)', () => {
    // A deterministic mix: 5 keys (one null), 3 IPs, 2 user agents, permission lists with and
    // without a resource, 3 codes, over two days.
    const pick = <T>(xs: T[], i: number, salt: number): T => xs[(i * salt + (i >> 3)) % xs.length] as T;
    const events = Array.from({ length: 3000 }, (_, i) =>
      ev({
        at: at - 500 + i,
        keyId: pick(['key_a', 'key_b', 'key_c', 'key_d', null], i, 7),
        ip: pick(['10.0.0.1', '10.0.0.2', null], i, 5),
        userAgent: pick(['a/1', null], i, 3),
        permissions: pick([['agents:invoke'], ['agents:invoke', 'logs:read:l1'], []], i, 11),
        resource: pick([null, 'agt_7', 'agt_8'], i, 13),
        code: pick(['VALID', 'VALID', 'RATE_LIMITED', 'INSUFFICIENT_PERMISSIONS'], i, 17),
        grants: pick([null, ['agents:invoke', 'logs:read:l1'], ['agents:*', 'logs:*'], ['*']], i, 19),
      }),
    );
    const decoded = decodeAll(events);
    const counted = emptyBatch();
    const clock = new IsoClock();
    for (const e of events) countEvent(counted, e, clock);
    assert.deepEqual([...decoded.daily].sort(), [...counted.daily].sort());
    assert.deepEqual([...decoded.seen].sort(), [...counted.seen].sort());
    assert.deepEqual([...decoded.lastUsed].sort(), [...counted.lastUsed].sort());
    assert.ok(decoded.daily.size >= 20 && decoded.seen.size >= 40, 'the mix is varied');
    const folds = new Set(
      [...decoded.seen.keys()].map((k) => splitSeen(k)).map((x) => x.kind === 'permission' && x.fold),
    );
    assert.deepEqual([...folds].sort(), [false, null, '*', 'agents:*', 'agents:invoke', 'logs:*'].sort());
  });

  test('strings are kept once per batch; a slice is a compact copy of the events left', () => {
    const cols = new EventColumns(1);
    for (let i = 0; i < 1000; i++) cols.push(ev({ at: at + i, keyId: `key_${i % 10}` }));
    const sealed = cols.seal();
    assert.equal(sealed.n, 1000);
    // 10 key ids, the start, the permission, the ip, the user agent, the code, the environment.
    assert.equal(sealed.strings.length, 16);
    const rest = sliceEvents(sealed, 990);
    assert.equal(rest.n, 10);
    const b = emptyBatch();
    new EventDecoder(rest, new IsoClock(), new MinuteLog(100)).decode(b, 0, rest.n);
    assert.deepEqual(
      b.logs.map((r) => r.key_id).sort(),
      Array.from({ length: 10 }, (_, i) => `key_${i}`),
    );
  });

  test('a job runs as transactions of bounded size, extras in the first, and stops at a failure', async () => {
    const cols = new EventColumns();
    for (let i = 0; i < 25; i++) cols.push(ev({ at: at + i, ip: `10.0.0.${i}` }));
    const events = cols.seal();
    const extras = emptyBatch();
    extras.credits.set('key_a', 3);
    const job: FlushJob = { token: 't', batches: [{ events, from: 5 }], extras };
    const seen: { rows: number; credits: number; done: JobProgress }[] = [];
    const ok = await runJob(
      job,
      (b, done) => {
        seen.push({ rows: b.logs.length, credits: b.credits.size, done });
      },
      8,
      new MinuteLog(100),
    );
    assert.deepEqual(ok, { extras: true, events: 20, overflowed: 0 });
    assert.deepEqual(
      seen.map((s) => [s.rows, s.credits, s.done.events]),
      [
        [8, 1, 8],
        [8, 0, 16],
        [4, 0, 20],
      ],
    );
    let calls = 0;
    const failed = await runJob(
      job,
      () => {
        if (++calls === 2) throw new Error('database is locked');
      },
      8,
      new MinuteLog(100),
    );
    assert.equal(failed.error?.message, 'database is locked');
    assert.deepEqual(
      { ...failed, error: undefined },
      { extras: true, events: 8, overflowed: 0, error: undefined },
    );
    // Bounded by rows, not calls: 100 calls of one combination are one row of one transaction.
    const same = new EventColumns();
    const minute = Math.floor(at / 60_000) * 60_000;
    for (let i = 0; i < 100; i++) same.push(ev({ at: minute + i }));
    same.push(ev({ at: minute + 100, ip: '192.0.2.9' }));
    const sealed = same.seal();
    const one: number[][] = [];
    await runJob(
      { token: 'u', batches: [{ events: sealed, from: 0 }], extras: null },
      (b, done) => {
        one.push([...b.logs.map((r) => r.count), done.events]);
      },
      1,
      new MinuteLog(100),
    );
    assert.deepEqual(one, [
      [100, 100],
      [1, 101],
    ]);
    const left = skipEvents(job.batches, failed.events);
    assert.deepEqual(
      left.map((b) => b.from),
      [13],
    );
  });

  test('IsoClock gives toISOString of every millisecond, in any order (differential)', () => {
    const clock = new IsoClock();
    const base = Date.parse('2026-06-01T23:59:58.000Z');
    let x = 7;
    for (let i = 0; i < 20_000; i++) {
      // Mostly nearby seconds (as a batch's first and last calls), sometimes far away and back.
      x = (x * 1103515245 + 12345) % 2147483648;
      const ms = i % 97 === 0 ? x * 1000 + (x % 1000) : base + (x % 5000);
      const iso = new Date(ms).toISOString();
      assert.equal(clock.at(ms), iso);
      assert.equal(clock.day, iso.slice(0, 10));
    }
  });
});
