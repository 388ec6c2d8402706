// Benchmark 7: revocation lag across 3 nodes sharing PostgreSQL and Redis: from the disable
// call's return to the moment the last node rejects the key, over many trials.
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { sql } from 'kysely';
import { openStorage } from '../dist/storage/db.js';
import { percentiles, quick, round, save, table } from './lib.mjs';

const BIN = new URL('../bin/keywarden.js', import.meta.url).pathname;

async function startNode(env) {
  const proc = spawn(process.execPath, [BIN, 'serve'], {
    env: { ...process.env, KEYWARDEN_PORT: '0', KEYWARDEN_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  for (let i = 0; i < 300; i++) {
    const m = /listening at (http:\/\/[0-9.:]+)/.exec(out);
    if (m) return { url: m[1], proc, out: () => out };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`node did not start: ${out}`);
}

export async function run() {
  const pg = process.env.KEYWARDEN_TEST_DATABASE_URL;
  const redis = process.env.KEYWARDEN_TEST_REDIS_URL;
  if (!pg || !redis) {
    console.log('revocation: skipped (needs KEYWARDEN_TEST_DATABASE_URL and KEYWARDEN_TEST_REDIS_URL)');
    save('revocation', { skipped: true });
    return { skipped: true };
  }
  const schema = `kw_bench_${randomBytes(4).toString('hex')}`;
  const env = {
    KEYWARDEN_DATABASE_URL: pg,
    KEYWARDEN_DATABASE_SCHEMA: schema,
    KEYWARDEN_REDIS_URL: redis,
    KEYWARDEN_REDIS_PREFIX: `${schema}:`,
    // Nodes sharing PostgreSQL need one server secret.
    KEYWARDEN_SECRET: 'bench-secret-for-keywarden-benchmarks-only-0123456789',
  };
  const first = await startNode(env);
  const root = /(kw_adm_[0-9A-Za-z]+)/.exec(first.out())[1];
  const nodes = [first, await startNode(env), await startNode(env)];
  const api = async (n, method, path, body) => {
    const r = await fetch(n.url + path, {
      method,
      headers: { authorization: `Bearer ${root}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return r.json();
  };
  const code = async (n, key) =>
    (await api(n, 'POST', '/v1/verify', { key, environment: 'production' })).code;
  try {
    const c = await api(nodes[0], 'POST', '/v1/keys', {
      name: 'bench-prod-revoke',
      environment: 'production',
      owner: { team: 'b', contact: 'b@x' },
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    const trials = quick ? 10 : 100;
    const lags = [];
    let sameNodeMisses = 0;
    for (let t = 0; t < trials; t++) {
      for (const n of nodes) await code(n, c.key); // cached everywhere
      const by = nodes[t % 3];
      await api(by, 'POST', `/v1/keys/${c.record.id}/disable`, {});
      const t0 = process.hrtime.bigint();
      if ((await code(by, c.key)) !== 'DISABLED') sameNodeMisses++;
      const others = nodes.filter((n) => n !== by);
      await Promise.all(
        others.map(async (n) => {
          while ((await code(n, c.key)) !== 'DISABLED') {
            /* poll */
          }
        }),
      );
      lags.push(Number(process.hrtime.bigint() - t0));
      await api(by, 'POST', `/v1/keys/${c.record.id}/enable`, {});
      await new Promise((r) => setTimeout(r, 20));
    }
    const p = percentiles(lags);
    const row = {
      trials,
      'p50 ms': round(p.p50 / 1000),
      'p99 ms': round(p.p99 / 1000),
      'max ms': round(Math.max(...lags) / 1e6),
      'same-node misses': sameNodeMisses,
    };
    table([row]);
    save('revocation', { ...row });
    return row;
  } finally {
    // Let the nodes finish their shutdown flush before their schema is dropped under them.
    await Promise.all(
      nodes.map(
        (n) =>
          new Promise((r) => {
            n.proc.once('exit', r);
            n.proc.kill('SIGTERM');
          }),
      ),
    );
    const s = openStorage({ databaseUrl: pg, dataDir: '/tmp' });
    await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(s.db);
    await s.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
