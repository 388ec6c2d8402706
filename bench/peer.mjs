// Benchmark 2: a peer in the same run. better-auth's api-key plugin could not be installed here
// (npm ERESOLVE: @better-auth/api-key 1.7.x and better-auth 1.7.25 pin incompatible
// @better-auth/utils peers), so this reproduces its documented verify path on its own SQLite
// (better-sqlite3, WAL): hash the key (SHA-256), 1 SELECT by hash, then 2 UPDATEs (request
// count / last request, then remaining) per verification — the pattern issue 6 describes.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { generateKey } from '../dist/core/keys.js';
import { freshKeywarden, bulkKeys, measure, quick, round, save, sha256, table } from './lib.mjs';

export async function run() {
  const n = quick ? 1000 : 100_000;
  const ops = quick ? 5000 : 50_000;
  const db = new Database(join(mkdtempSync(join(tmpdir(), 'kw-peer-')), 'peer.db'));
  db.pragma('journal_mode = WAL');
  db.exec(`create table apikey (id text primary key, key text not null unique, enabled integer not null, remaining integer,
    request_count integer not null default 0, last_request text, expires_at text, rate_limit_enabled integer not null default 0, permissions text)`);
  const insert = db.prepare(
    'insert into apikey (id, key, enabled, remaining, permissions) values (?, ?, 1, null, ?)',
  );
  const pool = [];
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const k = generateKey('kw', 'prod');
      if (pool.length < 10_000) pool.push(k);
      insert.run(`ak_${i}`, sha256(k), '{"agents":["invoke"]}');
    }
  })();
  const select = db.prepare('select * from apikey where key = ?');
  const touch = db.prepare(
    'update apikey set request_count = request_count + 1, last_request = ? where id = ?',
  );
  const spend = db.prepare('update apikey set remaining = remaining where id = ?');
  const peer = await measure(ops, (i) => {
    const row = select.get(sha256(pool[i % pool.length]));
    if (row === undefined || row.enabled !== 1) throw new Error('peer lookup failed');
    touch.run(new Date().toISOString(), row.id);
    spend.run(row.id);
    return JSON.parse(row.permissions).agents.includes('invoke');
  });
  db.close();

  const { kw } = await freshKeywarden();
  const ours = await bulkKeys(kw, n, 10_000, `insert ${n} keys`);
  for (const k of ours.pool)
    await kw.services.verifier.verify(
      { key: k, environment: 'production', permissions: ['agents:invoke'], cost: 1 },
      { team: null },
    );
  const keywarden = await measure(ops, (i) =>
    kw.services.verifier.verify(
      {
        key: ours.pool[i % ours.pool.length],
        environment: 'production',
        permissions: ['agents:invoke'],
        cost: 1,
      },
      { team: null },
    ),
  );
  await kw.close();
  const ratio = round(keywarden.opsPerSec / peer.opsPerSec, 1);
  table([
    {
      impl: 'peer (better-auth api-key pattern, emulated)',
      keys: n,
      'ops/s': peer.opsPerSec,
      'p50 µs': peer.p50,
      'p99 µs': peer.p99,
    },
    {
      impl: 'keywarden in-process',
      keys: n,
      'ops/s': keywarden.opsPerSec,
      'p50 µs': keywarden.p50,
      'p99 µs': keywarden.p99,
    },
  ]);
  console.log(`keywarden / peer: ${ratio}×`);
  save('peer', {
    keys: n,
    peer: { ...peer, note: 'emulated: 1 SELECT + 2 UPDATEs on better-sqlite3 per verify' },
    keywarden,
    ratio,
  });
  return { ratio, peerOpsPerSec: peer.opsPerSec };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
