import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { generateKey } from '../core/keys.js';
import { createLogger } from '../logger.js';
import { createKeywarden } from '../main.js';
import { openStorage } from '../storage/db.js';
import { call, createKey, startServer, testPgUrl, verify, type TestServer } from '../testing/harness.js';
import { uniqueName, within } from '../testing/nodes.js';
import { PrivateRedis, TcpProxy, freePort } from '../testing/services.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Two nodes (in process) sharing PostgreSQL (through a proxy the test cuts) and a private Redis
 * (which the test stops, restarts and hangs with SIGSTOP). TTLs are shortened to a second, so
 * outages of a few seconds outlast every one of them.
 */
describe(
  'two nodes through PostgreSQL and Redis outages',
  { skip: testPgUrl === undefined && 'needs KEYWARDEN_TEST_DATABASE_URL', timeout: 120_000 },
  () => {
    let proxy: TcpProxy;
    let redis: PrivateRedis;
    let a: TestServer;
    let b: TestServer;
    const schema = uniqueName('kw_out');

    before(async () => {
      const target = new URL(testPgUrl ?? 'postgres://127.0.0.1:5432/test');
      proxy = new TcpProxy(await freePort(), { host: target.hostname, port: Number(target.port || 5432) });
      await proxy.restore();
      target.host = `127.0.0.1:${proxy.port}`;
      redis = new PrivateRedis(await freePort());
      await redis.start();
      a = await startServer(
        { name: 'sqlite' },
        {
          env: {
            KEYWARDEN_DATABASE_URL: target.toString(),
            KEYWARDEN_DATABASE_SCHEMA: schema,
            KEYWARDEN_REDIS_URL: redis.url,
            KEYWARDEN_CACHE_TTL_SECONDS: '1',
            KEYWARDEN_ADMIN_CACHE_TTL_SECONDS: '1',
            KEYWARDEN_LOG_REPEAT_INTERVAL_MS: '60000',
            // Only the test's own flushes write usage (credits stay unflushed until then).
            KEYWARDEN_USAGE_FLUSH_MS: '3600000',
          },
        },
      );
      const kwB = await createKeywarden(a.config, { logger: createLogger('silent') });
      b = { ...a, kw: kwB, logs: () => '', close: () => kwB.close() };
    });
    after(async () => {
      redis.resume();
      await proxy.restore().catch(() => undefined);
      await b.close();
      await a.close();
      await redis.stop();
      const s = openStorage({ databaseUrl: testPgUrl, dataDir: '/tmp' });
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(s.db);
      await s.close();
      await proxy.cut();
    });

    const newAdmin = async (name: string): Promise<{ key: string; id: string }> => {
      const r = await call(a, 'POST', '/v1/admin-keys', { name, permissions: ['keys:verify', 'keys:read'] });
      assert.equal(r.status, 201, r.raw);
      return { key: r.body.key as string, id: (r.body.record as { id: string }).id };
    };
    const verifyAs = async (t: TestServer, key: string, adminKey: string) =>
      call(t, 'POST', '/v1/verify', { key, environment: 'production' }, adminKey);
    const bothConnected = (): boolean => a.kw.services.ctx.bus.connected && b.kw.services.ctx.bus.connected;

    test('a database outage longer than every TTL: cached keys and admin keys keep working, a revoked admin key stays refused, one log line per cause', async () => {
      const k = await createKey(a);
      const live = await newAdmin('verifier-live');
      const revoked = await newAdmin('verifier-revoked');
      for (const t of [a, b])
        for (const adm of [a.root, live.key, revoked.key])
          assert.equal((await verifyAs(t, k.key, adm)).body.code, 'VALID');
      assert.equal((await call(a, 'POST', `/v1/admin-keys/${revoked.id}/disable`, {})).status, 200);
      // The invalidation reaches the other node; both then know the key as disabled.
      await within(2000, async () => (await verifyAs(b, k.key, revoked.key)).status === 401);
      assert.equal((await verifyAs(a, k.key, revoked.key)).status, 401);
      const before503 = Number(
        /keywarden_http_requests_total\{route="\/v1\/verify",status="503"\} (\d+)/.exec(
          (await call(a, 'GET', '/metrics', undefined, null)).raw,
        )?.[1] ?? 0,
      );

      await proxy.cut();
      let unknown503 = 0;
      try {
        // 3.5 s: longer than the key cache TTL (1 s), the admin cache TTL (1 s) and its retry (1 s).
        const t0 = Date.now();
        while (Date.now() - t0 < 3500) {
          for (const t of [a, b]) {
            assert.equal((await verify(t, { key: k.key })).code, 'VALID', 'root admin key, cached key');
            assert.equal((await verify(t, { key: k.key }, live.key)).code, 'VALID', 'a second admin key');
            const r = await verifyAs(t, k.key, revoked.key);
            assert.equal(r.status, 401, 'the revoked admin key stays refused');
            assert.match(String(r.body.detail), /disabled/);
          }
          // A key no node has cached: a 503 each time, logged once.
          const u = await verifyAs(a, generateKey('kw', 'prod'), a.root);
          assert.equal(u.status, 503);
          unknown503++;
          await sleep(100);
        }
      } finally {
        await proxy.restore();
      }
      await within(10_000, async () => (await call(a, 'GET', '/readyz', undefined, null)).status === 200);
      const lines = a
        .logs()
        .split('\n')
        .filter((l) => l.includes('"request failed"'));
      assert.equal(lines.length, 1, `one "request failed" line for ${unknown503} failures`);
      const metrics = (await call(a, 'GET', '/metrics', undefined, null)).raw;
      const after503 = Number(
        /keywarden_http_requests_total\{route="\/v1\/verify",status="503"\} (\d+)/.exec(metrics)?.[1] ?? 0,
      );
      assert.equal(after503 - before503, unknown503, 'the metric counts every failure');
    });

    test('Redis lost and back during a database outage: cached keys keep verifying from their last known state', async () => {
      const k = await createKey(a);
      await within(10_000, bothConnected);
      for (const n of [a, b]) assert.equal((await verify(n, { key: k.key })).code, 'VALID');
      await proxy.cut();
      try {
        redis.pause();
        try {
          // The channel is lost (every entry expires), then comes back (they expire once more).
          await within(3000, () => !a.kw.services.ctx.bus.connected && !b.kw.services.ctx.bus.connected);
          for (const n of [a, b])
            assert.equal((await verify(n, { key: k.key })).code, 'VALID', 'channel lost');
        } finally {
          redis.resume();
        }
        await within(5000, bothConnected);
        for (const n of [a, b]) assert.equal((await verify(n, { key: k.key })).code, 'VALID', 'channel back');
        // A key no node has cached is still a 503: nothing is invented.
        assert.equal((await verifyAs(a, generateKey('kw', 'prod'), a.root)).status, 503);
      } finally {
        await proxy.restore();
      }
      await within(10_000, async () => (await call(a, 'GET', '/readyz', undefined, null)).status === 200);
    });

    test('a hung Redis: the channel counts as lost within about a second, a disable reaches every node within 2 s, limited keys do not wait', async (t) => {
      const k = await createKey(a);
      const limited = await createKey(a, { ratelimits: [{ name: 'l', limit: 100_000, windowSeconds: 60 }] });
      await within(10_000, bothConnected);
      for (const n of [a, b]) {
        assert.equal((await verify(n, { key: k.key })).code, 'VALID');
        assert.equal((await verify(n, { key: limited.key })).code, 'VALID');
      }
      redis.pause();
      try {
        const lostMs = await within(
          1500,
          () => !a.kw.services.ctx.bus.connected && !b.kw.services.ctx.bus.connected,
        );
        const times: number[] = [];
        for (let i = 0; i < 100; i++) {
          const t0 = performance.now();
          assert.equal((await verify(b, { key: limited.key })).code, 'VALID', 'fail-open, at once');
          times.push(performance.now() - t0);
        }
        times.sort((x, y) => x - y);
        // The command timeout is 1 s: no call waits anything like it.
        assert.ok((times.at(-1) ?? 0) < 500, `slowest limited verification ${times.at(-1)} ms`);
        const d0 = performance.now();
        assert.equal((await call(a, 'POST', `/v1/keys/${k.id}/disable`, { reason: 'leak' })).status, 200);
        const disableMs = performance.now() - d0;
        const honouredMs = await within(
          2000,
          async () => (await verify(b, { key: k.key })).code === 'DISABLED',
        );
        assert.equal((await verify(a, { key: k.key })).code, 'DISABLED');
        t.diagnostic(
          `channel lost after ${lostMs.toFixed(0)} ms; limited verification p99 ${(times[98] ?? 0).toFixed(1)} ms; ` +
            `disable took ${disableMs.toFixed(0)} ms, honoured on the other node after ${honouredMs.toFixed(0)} ms`,
        );
      } finally {
        redis.resume();
      }
      await within(5000, bothConnected);
      assert.match(a.logs(), /Redis does not answer PING in time/);
      assert.match(a.logs(), /invalidation channel back/);
    });

    test('credits after a Redis restart are never above what was acknowledged', async () => {
      const c = await createKey(a, { credits: { remaining: 10 } });
      for (let i = 0; i < 4; i++) assert.equal((await verify(a, { key: c.key })).code, 'VALID');
      // Stored balance 10 (nothing flushed), acknowledged 6: a Redis without persistence restarts.
      await redis.stop();
      await within(5000, () => !a.kw.services.ctx.bus.connected && !b.kw.services.ctx.bus.connected);
      await redis.start();
      await within(10_000, bothConnected);
      const r = await verify(a, { key: c.key });
      assert.equal(r.code, 'VALID');
      const left = (v: Record<string, unknown>): number | undefined =>
        (v.credits as { remaining: number } | null)?.remaining;
      assert.equal(left(r), 5, 're-seeded from the acknowledged 6, not the stored 10');
      assert.equal(left(await verify(b, { key: c.key })), 4, 'shared again');
      // Fail-open while Redis is down: this node spends from what it was last told, not the stored 10.
      await redis.stop();
      await within(5000, () => !a.kw.services.ctx.bus.connected);
      const during = await verify(a, { key: c.key });
      assert.equal(during.code, 'VALID');
      assert.ok((left(during) ?? 99) <= 4, `fail-open balance ${String(left(during))}`);
      await redis.start();
      await within(10_000, bothConnected);
    });

    test('admin keys and console sessions: how fast a change stops them on every node', async (t) => {
      const adm = await newAdmin('console-user');
      const signIn = await call(a, 'POST', '/console/api/session', { adminKey: adm.key }, null);
      assert.equal(signIn.status, 200, signIn.raw);
      const cookie = String(signIn.headers['set-cookie']).split(';')[0] ?? '';
      const csrf = signIn.body.csrfToken as string;
      const me = async (n: TestServer) =>
        (await call(n, 'GET', '/console/api/session', undefined, null, { cookie })).status;
      assert.equal(await me(b), 200, 'a session works on every node');
      // Sessions are read from the database on every request: an ended session stops at once.
      const out = await call(a, 'DELETE', '/console/api/session', undefined, null, {
        cookie,
        'x-csrf-token': csrf,
      });
      assert.equal(out.status, 204, out.raw);
      assert.equal(await me(b), 401, 'ended on node A: refused on node B at once');

      // A disabled admin key: at once through the channel.
      const k = await createKey(a);
      const x = await newAdmin('verifier-x');
      assert.equal((await verifyAs(b, k.key, x.key)).status, 200);
      assert.equal((await call(a, 'POST', `/v1/admin-keys/${x.id}/disable`, {})).status, 200);
      const normalMs = await within(1000, async () => (await verifyAs(b, k.key, x.key)).status === 401);

      // With Redis down the channel is lost: cached admin keys are re-read after a second.
      const y = await newAdmin('verifier-y');
      assert.equal((await verifyAs(b, k.key, y.key)).status, 200);
      await redis.stop();
      try {
        await within(5000, () => !b.kw.services.ctx.bus.connected);
        assert.equal((await verifyAs(b, k.key, y.key)).status, 200);
        assert.equal((await call(a, 'POST', `/v1/admin-keys/${y.id}/disable`, {})).status, 200);
        const outageMs = await within(2500, async () => (await verifyAs(b, k.key, y.key)).status === 401);
        t.diagnostic(
          `disabled admin key refused on the other node after ${normalMs.toFixed(0)} ms (channel up), ${outageMs.toFixed(0)} ms (Redis down)`,
        );
      } finally {
        await redis.start();
      }
      await within(10_000, bothConnected);
    });
  },
);
