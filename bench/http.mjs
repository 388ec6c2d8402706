// Benchmark 3: POST /v1/verify under autocannon (50 connections, random keys from a pool of
// 10k) against two baselines measured in the same run: a bare Fastify hello-world and a bare
// Fastify route that parses the same JSON body and answers the same size. The three run in
// alternating rounds (five rounds of 3 s each, the order turning), and each ratio is the median
// of the rounds' ratios: on these shared cores a route measured once, half a minute from its
// baseline, can see a machine twice as fast or slow.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import autocannon from 'autocannon';
import SQLite from 'better-sqlite3';
import { freshKeywarden, bulkKeys, median as medianOfSorted, quick, round, save, table } from './lib.mjs';

const ROUNDS = quick ? 2 : 5;
/**
 * `--keys N` sets the pool's size (default 10k, 2k with --quick). `--keys 1` puts every call on one
 * key: the workload on which a log row per call grew the data directory ~290 bytes per call.
 */
const keysArg = process.argv.indexOf('--keys');
const KEYS = keysArg > 0 ? Number(process.argv[keysArg + 1]) : undefined;
if (KEYS !== undefined && !(Number.isInteger(KEYS) && KEYS >= 1)) {
  throw new Error(`--keys takes a whole number of keys, at least 1 (got ${process.argv[keysArg + 1]})`);
}
const median = (xs) => medianOfSorted([...xs].sort((a, b) => a - b));

const BIN = new URL('../bin/keywarden.js', import.meta.url).pathname;
const BARE = new URL('./servers/bare.mjs', import.meta.url).pathname;

/** Bytes in the data directory (the SQLite file, and its WAL while a connection is open). */
const dirBytes = (dir) => readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);

/**
 * The parts of the store the workload writes to: each a set of tables with their indexes (the
 * counters are WITHOUT ROWID tables: their primary key is the table).
 */
const PARTS = {
  log: { tables: ['verification_log'], index: /^(vlog_|sqlite_autoindex_verification_log_)/ },
  counters: { tables: ['key_usage_daily', 'key_usage_seen'] },
  keys: { tables: ['keys'], index: /^(keys_|sqlite_autoindex_keys_)/ },
};

/**
 * Where the store's bytes are (SQLite's dbstat: the pages of each table and index) and its rows,
 * per part; `other` is the rest of the file: the other tables and free pages.
 */
function storeParts(dir) {
  const db = new SQLite(join(dir, 'keywarden.db'), { readonly: true, fileMustExist: true });
  try {
    const pages = db.prepare('select name, sum(pgsize) as bytes from dbstat group by name').all();
    const fileBytes = statSync(join(dir, 'keywarden.db')).size;
    const out = {};
    let counted = 0;
    for (const [part, { tables, index }] of Object.entries(PARTS)) {
      const bytes = pages
        .filter((p) => tables.includes(p.name) || index?.test(p.name))
        .reduce((n, p) => n + p.bytes, 0);
      const rows = tables.reduce(
        (n, t) => n + Number(db.prepare(`select count(*) as n from ${t}`).get().n),
        0,
      );
      out[part] = { bytes, rows };
      counted += bytes;
    }
    out.other = { bytes: fileBytes - counted, rows: 0 };
    return out;
  } finally {
    db.close();
  }
}

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function waitFor(url, init) {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(url, init);
      if (r.status < 500) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not come up`);
}

function load(opts) {
  return new Promise((resolve, reject) => {
    autocannon({ connections: 50, duration: quick ? 1 : 3, ...opts }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

export async function run() {
  const n = KEYS ?? (quick ? 2000 : 10_000);
  const { kw, root, dir } = await freshKeywarden();
  const { pool } = await bulkKeys(kw, n, n, `insert ${n} keys`);
  await kw.close();
  // The verification log's growth on this workload (docs/verification-log.md): the data
  // directory before the server starts and after it stopped (SIGTERM flushes and checkpoints).
  const bytesBefore = dirBytes(dir);
  const partsBefore = storeParts(dir);

  const bPort = await freePort();
  const bare = spawn(process.execPath, [BARE], {
    env: { ...process.env, PORT: String(bPort) },
    stdio: 'ignore',
  });
  const kPort = await freePort();
  const server = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      ...process.env,
      KEYWARDEN_DATA_DIR: dir,
      KEYWARDEN_PORT: String(kPort),
      KEYWARDEN_LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  try {
    await waitFor(`http://127.0.0.1:${bPort}/hello`);
    await waitFor(`http://127.0.0.1:${kPort}/healthz`);
    const body = () =>
      JSON.stringify({
        key: pool[Math.floor(Math.random() * pool.length)],
        environment: 'production',
        permission: 'agents:invoke',
      });
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${root}` };
    // Warm the server's key cache with every key of the pool once (random draws for a second
    // left about a fifth of the pool uncached, so the measured run paid cold reads): this
    // benchmark measures cached verification over HTTP; cold.mjs measures the misses.
    let next = 0;
    await load({
      url: `http://127.0.0.1:${kPort}/v1/verify`,
      method: 'POST',
      headers,
      amount: pool.length,
      connections: Math.min(50, pool.length),
      requests: [
        {
          setupRequest: (r) => ({
            ...r,
            body: JSON.stringify({
              key: pool[next++ % pool.length],
              environment: 'production',
              permission: 'agents:invoke',
            }),
          }),
        },
      ],
    });
    const misses = async () => {
      const text = await (await fetch(`http://127.0.0.1:${kPort}/metrics`, { headers })).text();
      return Number(/keywarden_cache_lookups_total\{result="miss"\} (\d+)/.exec(text)?.[1] ?? NaN);
    };
    const missesBefore = await misses();
    const runs = { hello: [], echo: [], verify: [] };
    const loads = {
      hello: () => load({ url: `http://127.0.0.1:${bPort}/hello` }),
      echo: () =>
        load({
          url: `http://127.0.0.1:${bPort}/echo`,
          method: 'POST',
          headers,
          requests: [{ setupRequest: (x) => ({ ...x, body: body() }) }],
        }),
      verify: () =>
        load({
          url: `http://127.0.0.1:${kPort}/v1/verify`,
          method: 'POST',
          headers,
          requests: [{ setupRequest: (x) => ({ ...x, body: body() }) }],
        }),
    };
    // The order turns each round: Keywarden's last usage flush runs (on its writer thread) into
    // whatever follows a verify round, so no route may always be the one that follows it.
    const order = Object.keys(loads);
    for (let r = 0; r < ROUNDS; r++) {
      for (let j = 0; j < order.length; j++) {
        const route = order[(r + j) % order.length];
        runs[route].push(await loads[route]());
      }
    }
    const missesDuring = (await misses()) - missesBefore;
    // Verifications the server answered (its own counter: autocannon stops counting at the end of
    // a round while up to 50 requests are still in flight, which the server serves and logs).
    const metricsText = await (await fetch(`http://127.0.0.1:${kPort}/metrics`, { headers })).text();
    const served = [
      ...metricsText.matchAll(/^keywarden_verifications_total\{code="[A-Z_]+"\} (\d+)/gm),
    ].reduce((n, m) => n + Number(m[1]), 0);
    // Stop the server gracefully (the last flush), then read what it left: the data directory's
    // growth per verification served, and whether the log counted every one (sum of count).
    const exited = once(server, 'exit');
    server.kill('SIGTERM');
    await exited;
    const growth = dirBytes(dir) - bytesBefore;
    const db = new SQLite(join(dir, 'keywarden.db'), { readonly: true, fileMustExist: true });
    const counted = Number(db.prepare('select coalesce(sum(count), 0) as n from verification_log').get().n);
    const logRows = Number(db.prepare('select count(*) as n from verification_log').get().n);
    db.close();
    // The growth by part: a log row is a key's calls of a minute (and client, permission…), a
    // counter row a key's calls of a day (by outcome, and by permission, IP, user agent); a key's
    // row grows once with its first lastUsedAt.
    const partsAfter = storeParts(dir);
    const growthByPart = Object.keys(partsAfter).map((part) => {
      const bytes = partsAfter[part].bytes - partsBefore[part].bytes;
      const rows = partsAfter[part].rows - partsBefore[part].rows;
      return {
        part,
        'bytes grown': bytes,
        'B/verification': round(bytes / served, 2),
        'rows added': rows,
        'B/row added': rows > 0 ? Math.round(bytes / rows) : '',
      };
    });
    const rate = (r) => r.requests.average;
    // Per round, verify against the baselines measured just before it.
    const ratios = (base) => runs.verify.map((v, r) => rate(v) / rate(base[r]));
    const range = (xs) => `${round(Math.min(...xs), 3)}–${round(Math.max(...xs), 3)}`;
    const row = (name, rs) => ({
      route: name,
      'req/s': Math.round(median(rs.map(rate))),
      // Latency: the median of the rounds' percentiles, and the worst round's p99 and maximum.
      'p50 ms': median(rs.map((r) => r.latency.p50)),
      'p99 ms': median(rs.map((r) => r.latency.p99)),
      'worst p99 ms': Math.max(...rs.map((r) => r.latency.p99)),
      // A flush that holds the event loop delays only the 50 requests in flight (autocannon waits
      // for their answers before sending more): it shows in the tail, not in p99.
      'p99.9 ms': median(rs.map((r) => r.latency.p99_9)),
      'max ms': Math.max(...rs.map((r) => r.latency.max)),
      errors: rs.reduce((n, r) => n + r.errors + r.non2xx, 0),
    });
    const rows = [
      row('bare hello-world', runs.hello),
      row('bare JSON echo', runs.echo),
      row('keywarden /v1/verify', runs.verify),
    ];
    table(rows);
    table(growthByPart);
    const summary = {
      rounds: ROUNDS,
      secondsPerRound: quick ? 1 : 3,
      verifyReqPerSec: rows[2]['req/s'],
      verifyP99Ms: rows[2]['p99 ms'],
      verifyWorstP99Ms: rows[2]['worst p99 ms'],
      verifyP999Ms: rows[2]['p99.9 ms'],
      verifyMaxMs: rows[2]['max ms'],
      vsEcho: round(median(ratios(runs.echo)), 3),
      vsEchoRange: range(ratios(runs.echo)),
      vsHello: round(median(ratios(runs.hello)), 3),
      vsHelloRange: range(ratios(runs.hello)),
      cacheMissesDuringRun: missesDuring,
      verificationsServed: served,
      logCounted: counted,
      logRows,
      dataDirGrowthBytes: growth,
      bytesPerVerification: round(growth / served, 2),
    };
    console.log('summary', summary);
    // The targets (bench/README.md, issue 19) against this run: `measured / bound` above 1 for a
    // floor (ratios) means met; for a ceiling (p99, bytes) below 1 means met.
    const targets = [
      ['verify / bare JSON echo (≥)', summary.vsEcho, 0.8, summary.vsEcho >= 0.8],
      ['verify / hello-world (≥)', summary.vsHello, 0.5, summary.vsHello >= 0.5],
      ['p99 ms at 50 connections (≤)', summary.verifyP99Ms, 5, summary.verifyP99Ms <= 5],
      [
        'data dir bytes per verification (≤)',
        summary.bytesPerVerification,
        10,
        summary.bytesPerVerification <= 10,
      ],
      ['log counted = served', counted, served, counted === served],
    ].map(([target, measured, bound, met]) => ({
      target,
      measured,
      bound,
      'measured / bound': round(measured / bound, 3),
      verdict: met ? 'met' : 'missed',
    }));
    table(targets);
    save(KEYS === undefined ? 'http' : `http-${n}-keys`, {
      keys: n,
      connections: 50,
      rows,
      growthByPart,
      targets,
      summary,
    });
    return summary;
  } finally {
    bare.kill();
    server.kill('SIGTERM');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
