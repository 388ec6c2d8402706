import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aKey, call, createKey, describeEachDialect } from '../testing/harness.js';

/**
 * Cache entries share what many keys hold identically (owners, permission sets, empty metadata).
 * What one key's answer hands out must never change another key's answer, or another team's.
 */
describeEachDialect('shared cache entries', (t) => {
  const verify = async (key: string, team: string | null = null) =>
    t.kw.services.verifier.verify(
      { key, environment: 'production', permissions: ['agents:invoke'], resource: 'agt_42', cost: 1 },
      { team },
    );

  test("a platform that writes to an answer changes nothing of another key's", async () => {
    const owner = { team: 'crm', contact: 'crm@example.com' };
    const a = await createKey(t, { owner, permissions: ['agents:invoke:agt_42'] });
    const b = await createKey(t, { owner, permissions: ['agents:invoke:agt_42'] });
    const answer = await verify(a.key);
    assert.equal(answer.code, 'VALID');
    assert.ok(
      answer.owner !== undefined && answer.permissions !== undefined && answer.metadata !== undefined,
    );
    const { owner: o, permissions: p, metadata: m } = answer;
    assert.throws(() => {
      (o as { team: string | null }).team = 'billing';
    }, TypeError);
    assert.throws(() => {
      p.push('admin:everything');
    }, TypeError);
    assert.throws(() => {
      m.injected = true;
    }, TypeError);
    const other = await verify(b.key, 'crm');
    assert.equal(other.code, 'VALID');
    assert.deepEqual(other.owner, owner);
    assert.deepEqual(other.permissions, ['agents:invoke:agt_42']);
    assert.deepEqual(other.metadata, {});
    assert.equal((await verify(b.key, 'billing')).code, 'NOT_FOUND', 'another team still sees nothing');
  });

  test('a NUL anywhere in the input is a 400 on every database, never a 500', async () => {
    for (const [method, url, body] of [
      ['POST', '/v1/keys', aKey({ owner: { team: 'crm', contact: 'x\u0000y' } })],
      ['POST', '/v1/keys', aKey({ metadata: { 'a\u0000b': 1 } })],
      ['POST', '/v1/verify', { key: 'kw_prod_\u0000', environment: 'production' }],
      ['GET', '/v1/keys?team=crm%00x', undefined],
      ['GET', '/v1/keys/key_%00', undefined],
    ] as const) {
      const r = await call(t, method, url, body);
      assert.equal(r.status, 400, `${method} ${url}: ${r.raw}`);
      assert.match(String(r.body.detail), /NUL/);
    }
  });

  test('changing one of two identically configured keys leaves the other as it was', async () => {
    const same = {
      owner: { team: 'ops', contact: 'ops@example.com' },
      permissions: ['agents:invoke:agt_42'],
    };
    const a = await createKey(t, same);
    const b = await createKey(t, same);
    await verify(a.key);
    await verify(b.key);
    const patched = await call(t, 'PATCH', `/v1/keys/${a.id}`, {
      permissions: ['agents:read'],
      owner: { team: 'billing', contact: 'billing@example.com' },
    });
    assert.equal(patched.status, 200, patched.raw);
    const vb = await verify(b.key, 'ops');
    assert.equal(vb.code, 'VALID');
    assert.deepEqual(vb.permissions, ['agents:invoke:agt_42']);
    assert.deepEqual(vb.owner, same.owner);
    assert.equal((await verify(a.key, 'ops')).code, 'NOT_FOUND');
  });
});
