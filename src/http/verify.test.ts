import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checksum, generateKey, randomBase62 } from '../core/keys.js';
import { call, createKey, startServer, verify, describeEachDialect } from '../testing/harness.js';

describeEachDialect('POST /v1/verify outcomes', (t, dialect) => {
  test('every code of SPEC §2 that does not need counters', async () => {
    const k = await createKey(t, {
      permissions: ['agents:invoke:agt_42', 'logs:read'],
      ipAllowlist: ['203.0.113.0/24'],
      customerId: 'cus_7',
    });
    const base = { key: k.key, permission: 'agents:invoke', resource: 'agt_42', ip: '203.0.113.7' };
    const valid = await verify(t, base);
    assert.deepEqual(
      [valid.valid, valid.code, valid.keyId, valid.customerId],
      [true, 'VALID', k.id, 'cus_7'],
    );
    assert.equal(
      (await verify(t, { ...base, permissions: ['logs:read'] })).code,
      'VALID',
      'permission and permissions are both required',
    );
    assert.equal(
      (await verify(t, { ...base, permissions: ['logs:write'] })).code,
      'INSUFFICIENT_PERMISSIONS',
    );
    assert.equal((await verify(t, { ...base, resource: 'agt_43' })).code, 'INSUFFICIENT_PERMISSIONS');
    assert.equal((await verify(t, { ...base, ip: '198.51.100.1' })).code, 'IP_NOT_ALLOWED');
    assert.equal((await verify(t, { ...base, environment: 'staging' })).code, 'ENVIRONMENT_MISMATCH');
    assert.equal((await verify(t, { ...base, key: generateKey('kw', 'prod') })).code, 'NOT_FOUND');
    assert.equal(
      (await verify(t, { ...base, key: k.key.slice(0, -1) + (k.key.endsWith('a') ? 'b' : 'a') })).code,
      'MALFORMED',
    );
    assert.equal((await verify(t, { ...base, key: 'hello' })).code, 'MALFORMED');
    const bearer = await verify(t, { ...base, key: `Bearer ${k.key}` });
    assert.deepEqual([bearer.code, bearer.valid], ['MALFORMED', false]);
    assert.match(String(bearer.detail), /starts with "Bearer "/);
    assert.ok(!JSON.stringify(bearer).includes(k.key.slice(8)), 'the detail never echoes the key');
    const other = generateKey('acme', 'prod');
    assert.equal((await verify(t, { ...base, key: other })).code, 'MALFORMED', 'another deployment prefix');
    const rejected = await verify(t, { ...base, ip: '198.51.100.1' });
    assert.equal(rejected.valid, false);
    assert.equal(rejected.keyId, k.id, 'identified rejections say which key');
  });

  test('a staging key against a production verifier is ENVIRONMENT_MISMATCH', async () => {
    const k = await createKey(t, { environment: 'staging', name: 'crm-stg-agent-call' });
    assert.match(k.key, /^kw_stg_/);
    assert.equal((await verify(t, { key: k.key, environment: 'production' })).code, 'ENVIRONMENT_MISMATCH');
    assert.equal((await verify(t, { key: k.key, environment: 'staging' })).code, 'VALID');
  });

  test('MALFORMED is decided without storage: it answers even with the database closed', async () => {
    const t2 = await startServer(dialect);
    // One authenticated call caches the admin key; then storage goes away.
    assert.equal((await call(t2, 'GET', '/v1/keys')).status, 200);
    await t2.kw.storage.close();
    const head = `kw_prod_${randomBase62(30)}`;
    const wrongChecksum = head + (checksum(head) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA');
    for (const key of [wrongChecksum, 'hello', generateKey('kw', 'adm')]) {
      const r = await call(t2, 'POST', '/v1/verify', { key, environment: 'production' }, t2.root);
      assert.equal(r.status, 200, r.raw);
      assert.equal(r.body.code, 'MALFORMED');
    }
    await t2.kw.app.close();
  });

  test('a cached key is answered without storage, and negative entries keep unknown keys off storage', async () => {
    const k = await createKey(t);
    assert.equal((await verify(t, { key: k.key })).code, 'VALID');
    const unknown = generateKey('kw', 'prod');
    assert.equal((await verify(t, { key: unknown })).code, 'NOT_FOUND');
    const { db } = t.kw.storage;
    let queries = 0;
    const orig = db.selectFrom.bind(db);
    db.selectFrom = ((...args: Parameters<typeof orig>) => {
      queries++;
      return orig(...args);
    }) as typeof db.selectFrom;
    try {
      for (let i = 0; i < 50; i++) {
        assert.equal(
          (
            await t.kw.services.verifier.verify(
              { key: k.key, environment: 'production', permissions: [], cost: 1 },
              { team: null },
            )
          ).code,
          'VALID',
        );
        assert.equal(
          (
            await t.kw.services.verifier.verify(
              { key: unknown, environment: 'production', permissions: [], cost: 1 },
              { team: null },
            )
          ).code,
          'NOT_FOUND',
        );
      }
    } finally {
      db.selectFrom = orig;
    }
    assert.equal(queries, 0);
  });

  test('concurrent first verifications of one key share one storage read', async () => {
    const k = await createKey(t);
    const results = await Promise.all(
      Array.from({ length: 20 }, async () =>
        t.kw.services.verifier.verify(
          { key: k.key, environment: 'production', permissions: [], cost: 1 },
          { team: null },
        ),
      ),
    );
    assert.ok(results.every((r) => r.code === 'VALID'));
  });
});
