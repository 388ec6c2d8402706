import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKey } from '../core/keys.js';
import { call, createKey, describeEachDialect, verify } from '../testing/harness.js';

/**
 * The verification cache is keyed by the key's digest while storage keeps its base64url hash:
 * with and without a pepper, a key read from storage is then answered from the cache, and every
 * change reaches the cached entries.
 */
for (const pepper of [undefined, 'a-server-side-pepper-of-some-length']) {
  describeEachDialect(
    `verification through the cache (${pepper === undefined ? 'SHA-256' : 'HMAC with a pepper'})`,
    (t) => {
      const lookups = () => ({ ...t.kw.services.ctx.metrics.cache });
      const counts = (l: ReturnType<typeof lookups>) => ({
        hit: l.hit.n,
        miss: l.miss.n,
        negative: l.negative.n,
      });

      test('a key is read from storage once, then answered from the cache', async () => {
        const k = await createKey(t);
        const before = counts(lookups());
        assert.equal((await verify(t, { key: k.key })).code, 'VALID');
        assert.equal((await verify(t, { key: k.key })).code, 'VALID');
        const now = counts(lookups());
        assert.equal(now.miss - before.miss, 1);
        assert.equal(now.hit - before.hit, 1);
      });

      test('a well-formed key nobody issued is remembered as unknown', async () => {
        const stranger = generateKey('kw', 'prod');
        const before = counts(lookups());
        assert.equal((await verify(t, { key: stranger })).code, 'NOT_FOUND');
        assert.equal((await verify(t, { key: stranger })).code, 'NOT_FOUND');
        const now = counts(lookups());
        assert.equal(now.miss - before.miss, 1);
        assert.equal(now.negative - before.negative, 1);
      });

      test('rotation with a grace window: both secrets verify, and disabling the key stops both', async () => {
        const k = await createKey(t);
        assert.equal((await verify(t, { key: k.key })).code, 'VALID');
        const r = await call(t, 'POST', `/v1/keys/${k.id}/regenerate`, { gracePeriodSeconds: 300 });
        assert.equal(r.status, 200);
        const fresh = r.body.key as string;
        assert.equal((await verify(t, { key: k.key })).code, 'VALID');
        assert.equal((await verify(t, { key: fresh })).code, 'VALID');
        // Both secrets are cached now; a change to the key must reach both entries.
        assert.equal((await call(t, 'POST', `/v1/keys/${k.id}/disable`, { reason: 'test' })).status, 200);
        assert.equal((await verify(t, { key: k.key })).code, 'DISABLED');
        assert.equal((await verify(t, { key: fresh })).code, 'DISABLED');
      });
      return pepper === undefined ? {} : { env: { KEYWARDEN_PEPPER: pepper } };
    },
  );
}
