// Benchmark 4: the cold path, a key not yet cached, on
// SQLite and, when KEYWARDEN_TEST_DATABASE_URL is set, on PostgreSQL (in a schema of its own).
// Each call first drops that key from the cache, so every verification reads storage.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { createHasher } from '../dist/core/keys.js';
import { openStorage } from '../dist/storage/db.js';
import { freshKeywarden, bulkKeys, measure, quick, save, table } from './lib.mjs';

export async function run() {
  const n = quick ? 1000 : 10_000;
  const ops = quick ? 500 : 5000;
  const pg = process.env.KEYWARDEN_TEST_DATABASE_URL;
  const rows = [];
  const hasher = createHasher();
  for (const engine of ['sqlite', ...(pg ? ['postgres'] : [])]) {
    const schema = `kw_bench_${randomBytes(4).toString('hex')}`;
    const env =
      engine === 'postgres' ? { KEYWARDEN_DATABASE_URL: pg, KEYWARDEN_DATABASE_SCHEMA: schema } : {};
    const { kw } = await freshKeywarden(env);
    const { pool } = await bulkKeys(kw, n, n, `insert ${n} keys (${engine})`);
    const v = kw.services.verifier;
    const cache = kw.services.ctx.cache;
    const hashes = pool.map((k) => hasher(k));
    const m = await measure(ops, (i) => {
      // Drop just this key (clearing the whole LRU costs O(capacity) and would be measured instead).
      cache.invalidateHash(hashes[i % pool.length]);
      return v.verify(
        { key: pool[i % pool.length], environment: 'production', permissions: ['agents:invoke'], cost: 1 },
        { team: null },
      );
    });
    rows.push({ engine, keys: n, 'ops/s': m.opsPerSec, 'p50 µs': m.p50, 'p99 µs': m.p99, 'p999 µs': m.p999 });
    await kw.close();
    if (engine === 'postgres') {
      const s = openStorage({ databaseUrl: pg, dataDir: '/tmp' });
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(s.db);
      await s.close();
    }
  }
  table(rows);
  save('cold', { rows });
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
