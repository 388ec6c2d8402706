import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { DIALECTS } from '../testing/harness.js';
import { olderStore } from '../testing/older-store.js';
import { usageOf } from './usage-repo.js';

/**
 * The usage counters' upgrade from a store made before migrations 0020 (64-bit counts on
 * PostgreSQL) and 0022 (WITHOUT ROWID tables on SQLite): every counter kept, and the tables take
 * counts past 2^31 and the writers' upserts afterwards.
 */
for (const dialect of DIALECTS) {
  describe(`usage counters upgrade (${dialect.name})`, () => {
    test('counters of an older store are kept, 64-bit, in one B-tree per table on SQLite', async () => {
      const { s, upgrade, close } = await olderStore(dialect, '0019_members');
      try {
        const old = s.db as unknown as Kysely<{
          key_usage_daily: { key_id: string; day: string; code: string; n: number | string };
          key_usage_seen: { key_id: string; day: string; kind: string; value: string; n: number };
        }>;
        const days = Array.from({ length: 40 }, (_, i) => `2026-05-${String((i % 28) + 1).padStart(2, '0')}`);
        const daily = days.flatMap((day, i) =>
          ['VALID', 'RATE_LIMITED'].map((code) => ({ key_id: `key_${i % 3}`, day, code, n: i + 1 })),
        );
        // Distinct (key, day, code): 40 days over 28 dates and 3 keys repeat a few; keep the first.
        const unique = [...new Map(daily.map((r) => [`${r.key_id} ${r.day} ${r.code}`, r])).values()];
        await old.insertInto('key_usage_daily').values(unique).execute();
        await old
          .insertInto('key_usage_seen')
          .values([
            { key_id: 'key_0', day: '2026-05-01', kind: 'ip', value: '10.0.0.1', n: 2_147_483_000 },
            { key_id: 'key_0', day: '2026-05-01', kind: 'permission', value: 'agents:invoke', n: 7 },
          ])
          .execute();
        await upgrade();

        const after = await old
          .selectFrom('key_usage_daily')
          .selectAll()
          .orderBy('key_id')
          .orderBy('day')
          .orderBy('code')
          .execute();
        assert.deepEqual(
          after.map((r) => ({ ...r, n: Number(r.n) })),
          [...unique].sort((a, b) =>
            a.key_id !== b.key_id
              ? a.key_id < b.key_id
                ? -1
                : 1
              : a.day !== b.day
                ? a.day < b.day
                  ? -1
                  : 1
                : a.code < b.code
                  ? -1
                  : 1,
          ),
          'every daily counter kept',
        );
        // Past 2^31, through the writers' own upsert.
        await sql`insert into key_usage_seen (key_id, day, kind, value, n) values ('key_0', '2026-05-01', 'ip', '10.0.0.1', 1000)
          on conflict (key_id, day, kind, value) do update set n = key_usage_seen.n + excluded.n`.execute(
          s.db,
        );
        const usage = await usageOf(s.db, 'key_0', '2026-05-01');
        assert.deepEqual(usage.ips, [{ value: '10.0.0.1', count: 2_147_484_000 }]);
        assert.deepEqual(usage.permissions, [{ value: 'agents:invoke', count: 7 }]);

        if (dialect.name === 'sqlite') {
          const tables = await sql<{ name: string; sql: string }>`select name, sql from sqlite_master
            where type = 'table' and name like 'key_usage_%'`.execute(s.db);
          assert.deepEqual(tables.rows.map((r) => r.name).sort(), ['key_usage_daily', 'key_usage_seen']);
          for (const t of tables.rows) assert.match(t.sql, /without rowid/i, t.name);
          const autoindexes = await sql<{ name: string }>`select name from sqlite_master
            where type = 'index' and tbl_name like 'key_usage_%'`.execute(s.db);
          assert.deepEqual(autoindexes.rows, [], 'no second copy of the counters');
        } else {
          const types = await sql<{ table_name: string; data_type: string }>`select table_name, data_type
            from information_schema.columns where table_schema = current_schema() and column_name = 'n'
            and table_name like 'key_usage_%' order by table_name`.execute(s.db);
          assert.deepEqual(
            types.rows.map((r) => [r.table_name, r.data_type]),
            [
              ['key_usage_daily', 'bigint'],
              ['key_usage_seen', 'bigint'],
            ],
          );
        }
      } finally {
        await close();
      }
    });
  });
}
