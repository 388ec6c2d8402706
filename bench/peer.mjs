// Benchmark 2: a peer in the same run — the real better-auth api-key plugin (better-auth 1.4.22,
// the last line that ships `apiKey` inside `better-auth/plugins`; a bench-only devDependency).
// It gets its own better-sqlite3 database (WAL, as Keywarden's), the same number of keys created
// through its own API, and is called in-process exactly as its docs show:
// `auth.api.verifyApiKey({ body: { key, permissions } })`.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db';
import { apiKey } from 'better-auth/plugins';
import { freshKeywarden, bulkKeys, measure, progress, quick, round, save, table } from './lib.mjs';

/** A better-auth instance with the api-key plugin, its tables migrated, and `n` keys of one user. */
async function betterAuthPeer(n, keep) {
  const db = new Database(join(mkdtempSync(join(tmpdir(), 'kw-peer-')), 'better-auth.db'));
  db.pragma('journal_mode = WAL');
  const options = {
    database: db,
    secret: 'bench-secret-bench-secret-bench-secret-0',
    baseURL: 'http://127.0.0.1',
    telemetry: { enabled: false },
    logger: { disabled: true },
    // Keywarden's bench keys have no rate limit either (the plugin's default is 10 a day).
    plugins: [apiKey({ rateLimit: { enabled: false } })],
  };
  const auth = betterAuth(options);
  const { runMigrations } = await getMigrations(options);
  await runMigrations();
  const ctx = await auth.$context;
  const user = await ctx.internalAdapter.createUser({
    email: 'bench@example.com',
    name: 'bench',
    emailVerified: true,
  });
  const pool = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const created = await auth.api.createApiKey({
      body: { userId: user.id, name: `bench-prod-k${i}`, permissions: { agents: ['invoke'] } },
    });
    if (pool.length < keep) pool.push(created.key);
    if ((i + 1) % 1000 === 0 || i + 1 === n) progress(`better-auth: create ${n} keys`, i + 1, n);
  }
  const createPerSec = Math.round(n / ((performance.now() - t0) / 1000));
  return { auth, db, pool, createPerSec };
}

export async function run() {
  const n = quick ? 1000 : 100_000;
  const peerOps = quick ? 2000 : 20_000;
  const ops = quick ? 20_000 : 300_000;
  const body = (key) => ({ body: { key, permissions: { agents: ['invoke'] } } });

  const ba = await betterAuthPeer(n, 10_000);
  for (const k of ba.pool.slice(0, 100)) {
    const r = await ba.auth.api.verifyApiKey(body(k));
    if (r.valid !== true) throw new Error(`better-auth rejected its own key: ${JSON.stringify(r.error)}`);
  }
  const peer = await measure(peerOps, async (i) => {
    const r = await ba.auth.api.verifyApiKey(body(ba.pool[i % ba.pool.length]));
    if (r.valid !== true) throw new Error('better-auth verification failed');
  });
  ba.db.close();

  const { kw } = await freshKeywarden();
  const ours = await bulkKeys(kw, n, 10_000, `keywarden: insert ${n} keys`);
  const input = (key) => ({ key, environment: 'production', permissions: ['agents:invoke'], cost: 1 });
  for (const k of ours.pool) await kw.services.verifier.verify(input(k), { team: null });
  const keywarden = await measure(ops, (i) =>
    kw.services.verifier.verify(input(ours.pool[i % ours.pool.length]), { team: null }),
  );
  await kw.close();
  const ratio = round(keywarden.opsPerSec / peer.opsPerSec, 1);
  table([
    {
      impl: 'better-auth 1.4.22 apiKey (real)',
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
  console.log(`keywarden / better-auth: ${ratio}×`);
  save('peer', {
    keys: n,
    peer: {
      ...peer,
      impl: 'better-auth 1.4.22 apiKey plugin, auth.api.verifyApiKey in-process',
      createPerSec: ba.createPerSec,
    },
    keywarden,
    ratio,
  });
  return { ratio, peerOpsPerSec: peer.opsPerSec };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
