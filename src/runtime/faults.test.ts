import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { openStorage } from '../storage/db.js';
import {
  aKey,
  call,
  createKey,
  startServer,
  testPgUrl,
  verify,
  type TestServer,
} from '../testing/harness.js';
import { uniqueName, within } from '../testing/nodes.js';
import { PrivateRedis, TcpProxy, freePort } from '../testing/services.js';

const metric = async (t: TestServer, re: RegExp): Promise<boolean> =>
  re.test((await call(t, 'GET', '/metrics', undefined, null)).raw);

for (const mode of ['open', 'closed'] as const) {
  describe(`Redis down, rate limits fail-${mode}`, { timeout: 60_000 }, () => {
    let redis: PrivateRedis;
    let t: TestServer;
    before(async () => {
      redis = new PrivateRedis(await freePort());
      await redis.start();
      t = await startServer(
        { name: 'sqlite' },
        { env: { KEYWARDEN_REDIS_URL: redis.url, KEYWARDEN_RATELIMIT_ON_REDIS_FAILURE: mode } },
      );
    });
    after(async () => {
      await t.close();
      await redis.stop();
    });

    test('verification continues, limits follow the configured mode, recovery is automatic', async () => {
      const limited = await createKey(t, { ratelimits: [{ name: 'l', limit: 3, windowSeconds: 3600 }] });
      const free = await createKey(t);
      for (let i = 0; i < 3; i++) assert.equal((await verify(t, { key: limited.key })).code, 'VALID');
      assert.equal((await verify(t, { key: limited.key })).code, 'RATE_LIMITED', 'the shared limit counts');

      await redis.stop();
      assert.equal((await verify(t, { key: free.key })).code, 'VALID', 'keys without limits are unaffected');
      const during = await verify(t, { key: limited.key });
      if (mode === 'open') {
        assert.equal(during.code, 'VALID', 'fail-open: this node falls back to its own limiter');
        assert.ok(
          await metric(t, /keywarden_job_runs_total\{job="redis_limiter",outcome="fail_open"\} [1-9]/),
        );
        assert.match(t.logs(), /Redis unreachable: rate limits fall back to per-node limits \(fail-open\)/);
      } else {
        assert.equal(during.code, 'RATE_LIMITED', 'fail-closed: refused while Redis is down');
        assert.ok(
          await metric(t, /keywarden_job_runs_total\{job="redis_limiter",outcome="fail_closed"\} [1-9]/),
        );
        assert.match(t.logs(), /fail-closed/);
      }

      await redis.start();
      // A fresh Redis (it keeps nothing on disk): once reconnected the shared counter starts over.
      await within(10_000, async () => {
        await new Promise((r) => setTimeout(r, 100));
        return /Redis is reachable again/.test(t.logs());
      }).catch(async () => {
        // The first call after the restart may be the one that notices; make calls until it does.
        await within(10_000, async () => {
          await verify(t, { key: free.key });
          await verify(t, { key: limited.key });
          return /Redis is reachable again/.test(t.logs());
        });
      });
    });

    test('the cache is expired when the invalidation channel is lost and when it reconnects', async () => {
      const k = await createKey(t);
      const ctx = t.kw.services.ctx;
      const digest = ctx.digester(k.key);
      const trusted = (): boolean => ctx.cache.lookup(digest, ctx.clock.now()) !== undefined;
      // Let the reconnection of the previous test settle (it expires the cache once more after a grace period).
      await within(10_000, () => t.kw.services.ctx.bus.connected);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal((await verify(t, { key: k.key })).code, 'VALID');
      assert.ok(trusted());
      await redis.stop();
      await within(5000, () => !t.kw.services.ctx.bus.connected);
      assert.ok(!trusted(), 'losing the channel expired the cache');
      assert.ok(ctx.cache.lastKnown(digest) !== undefined, 'kept as the last known state');
      // Missed invalidations are possible now: an entry older than 1 s is re-read from storage.
      assert.equal((await verify(t, { key: k.key })).code, 'VALID');
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal((await verify(t, { key: k.key })).code, 'VALID');
      assert.ok(await metric(t, /keywarden_cache_lookups_total\{result="stale"\} [1-9]/));
      await redis.start();
      await within(10_000, () => t.kw.services.ctx.bus.connected);
      assert.ok(!trusted(), 'reconnecting expired the cache once more');
      assert.equal((await verify(t, { key: k.key })).code, 'VALID');
    });
  });
}

describe(
  'PostgreSQL down',
  { skip: testPgUrl === undefined && 'needs KEYWARDEN_TEST_DATABASE_URL', timeout: 60_000 },
  () => {
    let proxy: TcpProxy;
    let t: TestServer;
    const schema = uniqueName('kw_pgdown');
    before(async () => {
      const target = new URL(testPgUrl ?? 'postgres://127.0.0.1:5432/test');
      proxy = new TcpProxy(await freePort(), { host: target.hostname, port: Number(target.port || 5432) });
      await proxy.restore();
      target.host = `127.0.0.1:${proxy.port}`;
      t = await startServer(
        { name: 'sqlite' },
        { env: { KEYWARDEN_DATABASE_URL: target.toString(), KEYWARDEN_DATABASE_SCHEMA: schema } },
      );
    });
    after(async () => {
      await proxy.restore().catch(() => undefined);
      await t.close();
      const s = openStorage({ databaseUrl: testPgUrl, dataDir: '/tmp' });
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(s.db);
      await s.close();
      await proxy.cut();
    });

    test('cached keys keep verifying, the rest is a clear 503, nothing is lost, recovery is automatic', async () => {
      const k = await createKey(t);
      assert.equal((await verify(t, { key: k.key })).code, 'VALID');
      await t.kw.services.ctx.usage.flush();
      await proxy.cut();

      for (let i = 0; i < 5; i++)
        assert.equal((await verify(t, { key: k.key })).code, 'VALID', 'answered from the cache');
      const other = await call(t, 'POST', '/v1/verify', {
        key: 'kw_prod_' + 'A'.repeat(36),
        environment: 'production',
      });
      assert.equal(other.body.code === 'MALFORMED' || other.status === 503, true);
      const unknownWellFormed = await call(t, 'POST', '/v1/keys', {
        name: 'crm-prod-during-outage',
        environment: 'production',
      });
      assert.equal(unknownWellFormed.status, 503);
      assert.equal(unknownWellFormed.body.code, 'SERVICE_UNAVAILABLE');
      const ready = await call(t, 'GET', '/readyz', undefined, null);
      assert.equal(ready.status, 503);
      await t.kw.services.ctx.usage.flush(); // fails, and keeps the batch

      await proxy.restore();
      await within(10_000, async () => (await call(t, 'GET', '/readyz', undefined, null)).status === 200);
      await t.kw.services.ctx.usage.flush();
      const logs = await call(t, 'GET', `/v1/logs?keyId=${k.id}`);
      assert.equal(
        (logs.body.items as { count: number }[]).reduce((n, r) => n + r.count, 0),
        6,
        'the verifications made during the outage were written after it',
      );
      assert.equal((await call(t, 'POST', '/v1/keys', aKey({ name: 'crm-prod-after-outage' }))).status, 201);
    });

    test('an unknown key while the database is down is a 503 problem, not an outcome', async () => {
      const { generateKey } = await import('../core/keys.js');
      await proxy.cut();
      const r = await call(t, 'POST', '/v1/verify', {
        key: generateKey('kw', 'prod'),
        environment: 'production',
      });
      assert.equal(r.status, 503);
      assert.equal(r.body.code, 'SERVICE_UNAVAILABLE');
      assert.match(String(r.body.detail), /storage is unreachable/);
      await proxy.restore();
    });
  },
);
