// The verification log's growth on PostgreSQL before a vacuum (docs/verification-log.md, "On
// PostgreSQL: row versions"): a flush adds to the minute rows of the minute still open with an
// UPDATE, and PostgreSQL keeps each row's old version until a vacuum (or a page prune) reclaims
// it. Not part of `npm run bench`; needs KEYWARDEN_TEST_DATABASE_URL.
//   node bench/log-pg-versions.mjs [calls per key per minute] [flush interval ms] [fillfactor]
// 10k keys, three simulated minutes (a clock the script moves, so it takes seconds), in a schema
// of its own that is dropped afterwards. Prints the table's growth per minute row and per part,
// and PostgreSQL's own update counts (all, HOT) and dead row versions.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { bulkKeys, freshKeywarden } from './lib.mjs';

const url = process.env.KEYWARDEN_TEST_DATABASE_URL;
if (!url) throw new Error('set KEYWARDEN_TEST_DATABASE_URL to a PostgreSQL database');
const perMinute = Number(process.argv[2] ?? 20);
const flushEveryMs = Number(process.argv[3] ?? 1000);
const fillfactor = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
const MINUTES = 3;
const KEYS = 10_000;

const T0 = Date.parse('2026-06-01T10:00:00.000Z');
const clock = {
  ms: T0,
  now() {
    return Math.floor(this.ms);
  },
};
const schema = `kw_bench_${randomBytes(4).toString('hex')}`;
const { kw } = await freshKeywarden(
  { KEYWARDEN_DATABASE_URL: url, KEYWARDEN_DATABASE_SCHEMA: schema, KEYWARDEN_USAGE_FLUSH_MS: '3600000' },
  { clock },
);
const db = kw.storage.db;
const log = sql.id(schema, 'verification_log');
try {
  if (fillfactor !== undefined)
    await sql`alter table ${log} set (fillfactor = ${sql.lit(fillfactor)})`.execute(db);
  const { pool } = await bulkKeys(kw, KEYS, KEYS, `insert ${KEYS} keys`);
  const size = async () => {
    const r = await sql`select pg_total_relation_size(${`${schema}.verification_log`}::regclass) as total,
      pg_relation_size(${`${schema}.verification_log`}::regclass) as heap`.execute(db);
    return { total: Number(r.rows[0].total), heap: Number(r.rows[0].heap) };
  };
  const before = await size();
  // Every key `perMinute` times a minute, spread evenly; a flush every `flushEveryMs` simulated.
  const step = 60_000 / (pool.length * perMinute);
  let due = T0 + flushEveryMs;
  let flushes = 0;
  for (let i = 0; clock.ms < T0 + MINUTES * 60_000; i++) {
    const r = kw.services.verifier.verify(
      {
        key: pool[(i * 7919) % pool.length],
        environment: 'production',
        permissions: ['agents:invoke'],
        ip: '10.0.0.1',
        cost: 1,
      },
      { team: null, userAgent: 'job/1' },
    );
    if (r instanceof Promise) await r;
    clock.ms += step;
    if (clock.ms >= due) {
      await kw.services.ctx.usage.flush();
      flushes++;
      due += flushEveryMs;
    }
  }
  await kw.services.ctx.usage.flush();
  const after = await size();
  const rows = (await sql`select count(*)::int as n, sum(count)::int as calls from ${log}`.execute(db))
    .rows[0];
  const stats = (
    await sql`select n_tup_upd as upd, n_tup_hot_upd as hot, n_dead_tup as dead from pg_stat_user_tables
      where schemaname = ${schema} and relname = 'verification_log'`.execute(db)
  ).rows[0];
  const indexes = (
    await sql`select indexrelname as name, pg_relation_size(indexrelid) as bytes from pg_stat_user_indexes
      where schemaname = ${schema} and relname = 'verification_log'`.execute(db)
  ).rows;
  const perRow = (bytes) => Math.round(bytes / rows.n);
  console.log(
    `fillfactor ${fillfactor ?? 100}, ${perMinute} calls per key per minute, a flush every ${flushEveryMs} ms (${flushes}):`,
  );
  console.table([
    {
      'minute rows': rows.n,
      calls: rows.calls,
      'growth MB': Math.round((after.total - before.total) / 1e4) / 100,
      'B per row': perRow(after.total - before.total),
      'heap B per row': perRow(after.heap - before.heap),
      ...Object.fromEntries(indexes.map((x) => [`${x.name} B per row`, perRow(Number(x.bytes))])),
      updates: Number(stats.upd),
      'HOT updates': Number(stats.hot),
      'dead versions': Number(stats.dead),
    },
  ]);
} finally {
  await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db);
  await kw.close();
}
