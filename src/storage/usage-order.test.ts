import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DIALECTS, startServer, type TestServer } from '../testing/harness.js';
import { dailyKey, emptyBatch, inKeyOrder, seenKey, type UsageBatch } from './usage-batch.js';
import { writeUsageBatch } from './usage-repo.js';

describe('inKeyOrder: counters in the order of their primary keys', () => {
  test('NUL-joined keys sort as their (key, day, kind, value) tuples', () => {
    const m = new Map<string, number>([
      [seenKey('key_b', '2026-06-01', 'ip', '10.0.0.1'), 1],
      [seenKey('key_a', '2026-06-02', 'ip', '10.0.0.1'), 1],
      [seenKey('key_a', '2026-06-01', 'ua', 'x'), 1],
      [seenKey('key_a', '2026-06-01', 'ip', '10.0.0.2'), 1],
      // A key that is a prefix of another sorts first, as in the tuple order.
      [seenKey('key_ab', '2026-06-01', 'ip', '10.0.0.1'), 1],
    ]);
    const order = inKeyOrder(m).map(([k]) => k.split('\u0000').join(' '));
    assert.deepEqual(order, [
      'key_a 2026-06-01 ip 10.0.0.2',
      'key_a 2026-06-01 ua x',
      'key_a 2026-06-02 ip 10.0.0.1',
      'key_ab 2026-06-01 ip 10.0.0.1',
      'key_b 2026-06-01 ip 10.0.0.1',
    ]);
  });
});

/** A batch adding 1 to each of `keys`' daily and seen counters, the maps filled in `keys`' order. */
function batch(keys: string[]): UsageBatch {
  const b = emptyBatch();
  for (const k of keys) {
    b.daily.set(dailyKey(k, '2026-06-01', 'VALID'), 1);
    b.seen.set(seenKey(k, '2026-06-01', 'ip', '10.0.0.1'), 1);
  }
  return b;
}

// Two nodes flushing at once add to the same counters. Each multi-row upsert locks its rows in the
// order of its VALUES: in the calls' order, node A could hold row 1 and wait for row 900 while node
// B holds 900 and waits for 1, and PostgreSQL kills one (deadlock detected, its flush retried and
// its counts late). In key order both take the locks in the same order. PostgreSQL only: several
// nodes share a database only there (a SQLite file has one writer at a time).
for (const dialect of DIALECTS.filter((d) => d.name === 'postgres')) {
  describe(`two writers adding to the same counters in opposite orders (${dialect.name})`, () => {
    test('both commit, no deadlock, every count added once', async () => {
      const t: TestServer = await startServer(dialect);
      const a = t.openStorage();
      const b = t.openStorage();
      try {
        const keys = Array.from({ length: 1500 }, (_, i) => `key_${String(i).padStart(5, '0')}`);
        const reversed = [...keys].reverse();
        const rounds = 6;
        for (let i = 0; i < rounds; i++)
          await Promise.all([writeUsageBatch(a, batch(keys)), writeUsageBatch(b, batch(reversed))]);
        const rows = await a.db
          .selectFrom('key_usage_daily')
          .select(['key_id', 'n'])
          .where('day', '=', '2026-06-01')
          .execute();
        assert.equal(rows.length, keys.length);
        assert.ok(
          rows.every((r) => String(r.n) === String(2 * rounds)),
          'each counter added to by both writers in every round',
        );
        const seen = await a.db
          .selectFrom('key_usage_seen')
          .select((eb) => eb.fn.sum<string | number>('n').as('n'))
          .executeTakeFirstOrThrow();
        assert.equal(Number(seen.n), keys.length * 2 * rounds);
      } finally {
        await a.close();
        await b.close();
        await t.close();
      }
    });
  });
}
