import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { idAt } from '../core/ids.js';
import { DIALECTS, call, createKey, startServer } from '../testing/harness.js';
import type { VerificationLogTable } from './schema.js';
import { LOG_ID_PREFIX, emptyBatch, mergeRowsById } from './usage-batch.js';
import { writeUsageBatch } from './usage-repo.js';

/** A minute ten minutes ago (well within retention, which the server may run while the test does). */
const T = Math.floor(Date.now() / 60_000) * 60_000 - 600_000;
const iso = (ms: number): string => new Date(ms).toISOString();

/** A minute row of `count` calls from `first` to `last` (ms after T), slowest `maxUs`, sum `sumUs`. */
function row(
  id: string,
  keyId: string,
  first: number,
  last: number,
  count: number,
  maxUs: number,
  sumUs: number,
): VerificationLogTable {
  return {
    id,
    at: iso(T + first),
    last_at: iso(T + last),
    key_id: keyId,
    key_start: 'kw_prod_abcd',
    environment: 'production',
    permissions: 'agents:invoke',
    resource: null,
    code: 'VALID',
    ip: '10.0.0.1',
    user_agent: 'job/1',
    latency_us: maxUs,
    latency_sum_us: sumUs,
    count,
    overflow: 0,
    shadow: 0,
  };
}

describe('in-memory merges read a null last call and sum as the first call and slowest', () => {
  test('mergeRowsById onto a row with nulls', () => {
    const stored = { ...row('vl_x', 'key_x', 5000, 5000, 1, 20, 20), last_at: null, latency_sum_us: null };
    const [m] = mergeRowsById([stored, row('vl_x', 'key_x', 1000, 1000, 1, 10, 10)]);
    assert.deepEqual(
      [m?.count, m?.at, m?.last_at, m?.latency_us, m?.latency_sum_us],
      [2, iso(T + 1000), iso(T + 5000), 20, 30],
    );
  });
});

// A row's last call and latency sum are stored as null where they equal its first call and slowest
// call (usage-batch.ts `storedLastAt`): most rows of keys called now and then hold one call, and the
// ISO time is 24 of their bytes. Whatever adds to such a row later (the upsert of a row written
// again, the writer's add by id) and whatever reads it must take null as those values.
for (const dialect of DIALECTS) {
  describe(`minute rows store no last call or latency sum equal to the first (${dialect.name})`, () => {
    test('stored as null, read and added to as the first call and the slowest', async () => {
      const t = await startServer(dialect);
      const s = t.openStorage();
      try {
        const keyId = (await createKey(t)).id;
        const a = idAt(LOG_ID_PREFIX, T);
        const b = idAt(LOG_ID_PREFIX, T + 1);
        const c = idAt(LOG_ID_PREFIX, T + 2);
        const write = async (logs: VerificationLogTable[], updates: VerificationLogTable[] = []) => {
          const batch = emptyBatch();
          batch.logs.push(...logs);
          batch.updates.push(...updates);
          await writeUsageBatch(s, batch);
        };
        const stored = async (id: string) =>
          s.db
            .selectFrom('verification_log')
            .select(['at', 'last_at', 'count', 'latency_us', 'latency_sum_us'])
            .where('id', '=', id)
            .executeTakeFirstOrThrow();
        const listed = async (): Promise<Record<string, unknown[]>> => {
          const r = await call(t, 'GET', `/v1/logs?keyId=${keyId}`);
          assert.equal(r.status, 200, r.raw);
          const data = r.body.items as Record<string, unknown>[];
          return Object.fromEntries(
            data.map((d): [string, unknown[]] => [
              String(d.id),
              [d.count, d.firstAt, d.lastAt, d.latencyUs, d.latencyMaxUs],
            ]),
          );
        };

        // One call; three calls in one millisecond (same first and last, sum above the slowest);
        // two calls a second apart.
        await write([
          row(a, keyId, 0, 0, 1, 100, 100),
          row(b, keyId, 1, 1, 3, 40, 90),
          row(c, keyId, 2, 1002, 2, 7, 12),
        ]);
        const [a1, b1, c1] = [await stored(a), await stored(b), await stored(c)];
        assert.deepEqual([a1.count, a1.last_at, a1.latency_sum_us], [1, null, null]);
        assert.deepEqual([b1.last_at, Number(b1.latency_sum_us)], [null, 90]);
        assert.equal(c1.last_at, iso(T + 1002));
        assert.deepEqual(await listed(), {
          [a]: [1, iso(T), iso(T), 100, 100],
          [b]: [3, iso(T + 1), iso(T + 1), 30, 40],
          [c]: [2, iso(T + 2), iso(T + 1002), 6, 7],
        });

        // The same row written again (a flush whose commit was not seen: the upsert's conflict
        // branch), a single call both times: the last call and the sum come from both.
        await write([row(a, keyId, 500, 500, 1, 300, 300)]);
        const sa = await stored(a);
        assert.deepEqual(
          [sa.count, sa.at, sa.last_at, sa.latency_us, Number(sa.latency_sum_us)],
          [2, iso(T), iso(T + 500), 300, 400],
        );

        // Added to by id (a later flush of the same minute), onto a row stored with nulls.
        await write([], [row(b, keyId, 800, 800, 1, 50, 50)]);
        const sb = await stored(b);
        assert.deepEqual(
          [sb.count, sb.at, sb.last_at, sb.latency_us, Number(sb.latency_sum_us)],
          [4, iso(T + 1), iso(T + 800), 50, 140],
        );
        // A call earlier than the row's first becomes its first; its last stays.
        await write([], [row(c, keyId, 1, 1, 1, 3, 3)]);
        const sc = await stored(c);
        assert.deepEqual(
          [sc.count, sc.at, sc.last_at, Number(sc.latency_sum_us)],
          [3, iso(T + 1), iso(T + 1002), 15],
        );
        assert.deepEqual(await listed(), {
          [a]: [2, iso(T), iso(T + 500), 200, 300],
          [b]: [4, iso(T + 1), iso(T + 800), 35, 50],
          [c]: [3, iso(T + 1), iso(T + 1002), 5, 7],
        });

        // Rows of one call stored with both nulls, then a call earlier than it added by id (the
        // writer's next flush) and by the upsert: the stored nulls read as its first call and
        // slowest, so the later call stays the last and the sum counts both.
        const d = idAt(LOG_ID_PREFIX, T + 5000);
        const e = idAt(LOG_ID_PREFIX, T + 5001);
        await write([row(d, keyId, 5000, 5000, 1, 20, 20), row(e, keyId, 5001, 5001, 1, 20, 20)]);
        const d1 = await stored(d);
        assert.deepEqual([d1.last_at, d1.latency_sum_us], [null, null]);
        await write([row(e, keyId, 1000, 1000, 1, 10, 10)], [row(d, keyId, 1000, 1000, 1, 10, 10)]);
        for (const [id, first] of [
          [d, 5000],
          [e, 5001],
        ] as const) {
          const x = await stored(id);
          assert.deepEqual(
            [x.count, x.at, x.last_at, x.latency_us, Number(x.latency_sum_us)],
            [2, iso(T + 1000), iso(T + first), 20, 30],
            `row ${id === d ? 'added to by id' : 'upserted'}`,
          );
        }
      } finally {
        await s.close();
        await t.close();
      }
    });
  });
}
