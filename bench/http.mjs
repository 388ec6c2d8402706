// Benchmark 3: POST /v1/verify under autocannon (50 connections, random keys from a pool of
// 10k) against two baselines measured in the same run: a bare Fastify hello-world and a bare
// Fastify route that parses the same JSON body and answers the same size.
import { spawn } from 'node:child_process';
import net from 'node:net';
import autocannon from 'autocannon';
import { freshKeywarden, bulkKeys, quick, round, save, table } from './lib.mjs';

const BIN = new URL('../bin/keywarden.js', import.meta.url).pathname;
const BARE = new URL('./servers/bare.mjs', import.meta.url).pathname;

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
    autocannon({ connections: 50, duration: quick ? 2 : 10, ...opts }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

export async function run() {
  const n = quick ? 2000 : 10_000;
  const { kw, root, dir } = await freshKeywarden();
  const { pool } = await bulkKeys(kw, n, n, `insert ${n} keys`);
  await kw.close();

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
    const hello = await load({ url: `http://127.0.0.1:${bPort}/hello` });
    const echo = await load({
      url: `http://127.0.0.1:${bPort}/echo`,
      method: 'POST',
      headers,
      requests: [{ setupRequest: (r) => ({ ...r, body: body() }) }],
    });
    const verify = await load({
      url: `http://127.0.0.1:${kPort}/v1/verify`,
      method: 'POST',
      headers,
      requests: [{ setupRequest: (r) => ({ ...r, body: body() }) }],
    });
    const missesDuring = (await misses()) - missesBefore;
    const row = (name, r) => ({
      route: name,
      'req/s': Math.round(r.requests.average),
      'p50 ms': r.latency.p50,
      'p99 ms': r.latency.p99,
      // A flush that holds the event loop delays only the 50 requests in flight (autocannon waits
      // for their answers before sending more): it shows in the tail, not in p99.
      'p99.9 ms': r.latency.p99_9,
      'max ms': r.latency.max,
      errors: r.errors + r.non2xx,
    });
    const rows = [
      row('bare hello-world', hello),
      row('bare JSON echo', echo),
      row('keywarden /v1/verify', verify),
    ];
    table(rows);
    const summary = {
      verifyReqPerSec: rows[2]['req/s'],
      verifyP99Ms: rows[2]['p99 ms'],
      verifyP999Ms: rows[2]['p99.9 ms'],
      verifyMaxMs: rows[2]['max ms'],
      vsEcho: round(rows[2]['req/s'] / rows[1]['req/s'], 3),
      vsHello: round(rows[2]['req/s'] / rows[0]['req/s'], 3),
      cacheMissesDuringRun: missesDuring,
    };
    console.log('summary', summary);
    save('http', { keys: n, connections: 50, rows, summary });
    return summary;
  } finally {
    bare.kill();
    server.kill('SIGTERM');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
