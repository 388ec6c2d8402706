// Issue 22: verification of a key with an identity limit, as a ratio to the same verification of
// a key without one, in process and over HTTP. Both kinds of key carry their own rate limit, so
// the ratio is what the identity adds: a second subject in the limiter's atomic step (its own
// limits and credit balance) and the `identity` part of the answer. Cached keys only (the cache
// holds the identity with the key: no storage read either way). See docs/identities.md.
import { spawn } from 'node:child_process';
import net from 'node:net';
import autocannon from 'autocannon';
import { freshKeywarden, measureVs, median, quick, round, save, table } from './lib.mjs';

const BIN = new URL('../bin/keywarden.js', import.meta.url).pathname;
const KEYS = quick ? 50 : 500;
const HUGE = { name: 'bench', limit: 1_000_000_000, windowSeconds: 3600 };

async function inject(kw, root, method, url, payload) {
  const r = await kw.app.inject({ method, url, payload, headers: { authorization: `Bearer ${root}` } });
  if (r.statusCode >= 300) throw new Error(`${method} ${url}: ${r.statusCode} ${r.body}`);
  return JSON.parse(r.body);
}

/** `KEYS` keys with their own limit, and as many with the same limit and an identity's limit and credits. */
async function keysOf(kw, root) {
  const identity = await inject(kw, root, 'POST', '/v1/identities', {
    externalId: 'bench-customer',
    owner: { team: 'bench', contact: 'bench@example.com' },
    ratelimits: [{ ...HUGE, name: 'customer' }],
    credits: { remaining: 1_000_000_000 },
  });
  const make = async (i, identityId) =>
    (
      await inject(kw, root, 'POST', '/v1/keys', {
        name: `bench-prod-${identityId === undefined ? 'plain' : 'idn'}${i}`,
        environment: 'production',
        owner: { team: 'bench', contact: 'bench@example.com' },
        permissions: ['agents:invoke'],
        ratelimits: [HUGE],
        expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
        ...(identityId === undefined ? {} : { identityId }),
      })
    ).key;
  const plain = [];
  const withIdentity = [];
  for (let i = 0; i < KEYS; i++) {
    plain.push(await make(i));
    withIdentity.push(await make(i, identity.id));
  }
  return { plain, withIdentity };
}

const input = (key) => ({ key, environment: 'production', permissions: ['agents:invoke'], cost: 1 });

async function inProcess() {
  const { kw, root } = await freshKeywarden({ KEYWARDEN_USAGE_FLUSH_MS: '1000' });
  try {
    const { plain, withIdentity } = await keysOf(kw, root);
    const v = kw.services.verifier;
    const scope = { team: null };
    for (const k of [...plain, ...withIdentity]) {
      const r = await v.verify(input(k), scope);
      if (r.code !== 'VALID') throw new Error(`warm-up: ${r.code}`);
    }
    const flush = () => kw.services.ctx.usage.flush();
    const ops = quick ? 20_000 : 200_000;
    const rounds = quick ? 2 : 5;
    // Baseline: the key without an identity; case: the key with one (alternating rounds).
    const r = await measureVs(
      ops,
      rounds,
      (i) => v.verify(input(plain[i % plain.length]), scope),
      (i) => v.verify(input(withIdentity[i % withIdentity.length]), scope),
      flush,
    );
    const sample = await v.verify(input(withIdentity[0]), scope);
    if (sample.identity?.externalId !== 'bench-customer') throw new Error('the answer carries no identity');
    return {
      opsPerSec: r.opsPerSec,
      p50us: r.p50,
      p99us: r.p99,
      vsWithout: r.vsBaseline,
      range: r.vsBaselineRange,
    };
  } finally {
    await kw.close();
  }
}

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const load = (opts) =>
  new Promise((resolve, reject) => {
    autocannon({ connections: 50, duration: quick ? 1 : 3, ...opts }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });

async function overHttp() {
  const { kw, root, dir } = await freshKeywarden();
  const { plain, withIdentity } = await keysOf(kw, root);
  await kw.close();
  const port = await freePort();
  const server = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      ...process.env,
      KEYWARDEN_DATA_DIR: dir,
      KEYWARDEN_PORT: String(port),
      KEYWARDEN_LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  try {
    for (let i = 0; i < 200; i++) {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.ok) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${root}` };
    const run = (pool) => {
      let next = 0;
      return load({
        url: `http://127.0.0.1:${port}/v1/verify`,
        method: 'POST',
        headers,
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
    };
    // Warm both pools into the server's cache.
    for (const k of [...plain, ...withIdentity])
      await fetch(`http://127.0.0.1:${port}/v1/verify`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ key: k, environment: 'production' }),
      });
    const rounds = quick ? 2 : 5;
    const runs = { plain: [], identity: [] };
    for (let r = 0; r < rounds; r++) {
      // The order turns each round so neither always follows the other's usage flush.
      const order = r % 2 === 0 ? ['plain', 'identity'] : ['identity', 'plain'];
      for (const which of order) runs[which].push(await run(which === 'plain' ? plain : withIdentity));
    }
    const rate = (x) => x.requests.average;
    const ratios = runs.identity.map((x, r) => rate(x) / rate(runs.plain[r])).sort((a, b) => a - b);
    const errors = [...runs.plain, ...runs.identity].reduce((n, x) => n + x.errors + x.non2xx, 0);
    return {
      plainReqPerSec: Math.round(median(runs.plain.map(rate).sort((a, b) => a - b))),
      identityReqPerSec: Math.round(median(runs.identity.map(rate).sort((a, b) => a - b))),
      vsWithout: round(median(ratios), 3),
      range: [round(ratios[0], 3), round(ratios.at(-1), 3)],
      errors,
    };
  } finally {
    server.kill('SIGTERM');
  }
}

export async function run() {
  const proc = await inProcess();
  const http = await overHttp();
  table([
    {
      where: 'in process',
      'with identity ops/s': proc.opsPerSec,
      'vs without': proc.vsWithout,
      range: proc.range.join('–'),
    },
    {
      where: 'HTTP /v1/verify',
      'with identity ops/s': http.identityReqPerSec,
      'vs without': http.vsWithout,
      range: http.range.join('–'),
    },
  ]);
  const summary = { keysPerKind: KEYS, inProcess: proc, http };
  console.log('summary', summary);
  save('identity', summary);
  return summary;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
