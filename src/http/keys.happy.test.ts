import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aKey, ManualClock, call, createKey, verify, describeEachDialect } from '../testing/harness.js';

describeEachDialect('key lifecycle over HTTP', (t) => {
  const clock = new ManualClock();

  test('create returns the plaintext once; the record keeps only start and end', async () => {
    const r = await call(t, 'POST', '/v1/keys', {
      name: 'crm-prod-agent-call',
      environment: 'production',
      system: 'crm',
      purpose: 'agent-call',
      owner: { team: 'crm', contact: 'crm-oncall@example.com' },
      customerId: 'cus_7',
      permissions: ['agents:invoke:agt_42', 'workflows:run'],
      ipAllowlist: ['203.0.113.0/24', '2001:db8::/32'],
      expiresAt: '2027-01-01T00:00:00Z',
      metadata: { ticket: 'OPS-1' },
    });
    assert.equal(r.status, 201);
    const key = r.body.key as string;
    const rec = r.body.record as Record<string, unknown>;
    assert.match(key, /^kw_prod_[0-9A-Za-z]{36}$/);
    assert.equal(rec.start, key.slice(0, 12));
    assert.equal(rec.end, key.slice(-4));
    assert.equal(rec.status, 'active');
    assert.equal(rec.expiresAt, '2027-01-01T00:00:00.000Z');
    assert.equal(rec.customerId, 'cus_7');
    assert.ok(!JSON.stringify(rec).includes(key));
    const got = await call(t, 'GET', `/v1/keys/${String(rec.id)}`);
    assert.equal(got.status, 200);
    assert.ok(!got.raw.includes(key.slice(12, -4)), 'no secret body characters in the record');
    assert.deepEqual({ ...got.body }, { ...rec });
    const v = await verify(t, { key, permission: 'agents:invoke', resource: 'agt_42', ip: '203.0.113.9' });
    assert.equal(v.code, 'VALID');
    assert.equal(v.customerId, 'cus_7');
    assert.deepEqual(v.metadata, { ticket: 'OPS-1' });
  });

  test('list filters and paginates with a cursor', async () => {
    for (let i = 0; i < 5; i++) {
      await createKey(t, {
        name: `pay-stg-batch-${i}`,
        environment: 'staging',
        owner: { team: 'pay', contact: 'p@x' },
        system: 'pay',
        customerId: i % 2 ? 'cus_odd' : 'cus_even',
      });
    }
    const all = await call(t, 'GET', '/v1/keys?team=pay&limit=2');
    assert.equal(all.status, 200);
    const seen: string[] = [];
    let page = all.body;
    for (;;) {
      for (const it of page.items as { name: string }[]) seen.push(it.name);
      if (page.nextCursor === null) break;
      page = (await call(t, 'GET', `/v1/keys?team=pay&limit=2&cursor=${page.nextCursor as string}`)).body;
    }
    assert.deepEqual(seen, [
      'pay-stg-batch-4',
      'pay-stg-batch-3',
      'pay-stg-batch-2',
      'pay-stg-batch-1',
      'pay-stg-batch-0',
    ]);
    const odd = await call(t, 'GET', '/v1/keys?customerId=cus_odd');
    assert.deepEqual(
      (odd.body.items as { name: string }[]).map((x) => x.name),
      ['pay-stg-batch-3', 'pay-stg-batch-1'],
    );
    const q = await call(t, 'GET', '/v1/keys?q=BATCH-2');
    assert.deepEqual(
      (q.body.items as { name: string }[]).map((x) => x.name),
      ['pay-stg-batch-2'],
    );
    const pct = await call(t, 'GET', '/v1/keys?q=%25');
    assert.equal((pct.body.items as unknown[]).length, 0, '% is matched literally, not as a wildcard');
    const env = await call(t, 'GET', '/v1/keys?environment=staging&system=pay');
    assert.equal((env.body.items as unknown[]).length, 5);
  });

  test('patch changes the configuration and takes effect for verification before it returns', async () => {
    const k = await createKey(t);
    assert.equal(
      (await verify(t, { key: k.key, permission: 'agents:invoke', resource: 'agt_42' })).code,
      'VALID',
    );
    const p = await call(t, 'PATCH', `/v1/keys/${k.id}`, {
      permissions: ['agents:invoke:agt_99'],
      owner: { contact: 'new@x' },
    });
    assert.equal(p.status, 200);
    assert.deepEqual(p.body.permissions, ['agents:invoke:agt_99']);
    assert.deepEqual(p.body.owner, { team: 'crm', contact: 'new@x' });
    assert.equal(p.body.version, 2);
    assert.equal(
      (await verify(t, { key: k.key, permission: 'agents:invoke', resource: 'agt_42' })).code,
      'INSUFFICIENT_PERMISSIONS',
    );
    assert.equal(
      (await verify(t, { key: k.key, permission: 'agents:invoke', resource: 'agt_99' })).code,
      'VALID',
    );
  });

  test('disable and enable, with a reason, effective at once', async () => {
    const k = await createKey(t);
    assert.equal((await verify(t, { key: k.key, permission: 'agents:invoke:agt_42' })).code, 'VALID');
    const d = await call(t, 'POST', `/v1/keys/${k.id}/disable`, { reason: 'suspicious traffic' });
    assert.equal(d.status, 200);
    assert.equal(d.body.status, 'disabled');
    assert.equal(d.body.disabledReason, 'suspicious traffic');
    const v = await verify(t, { key: k.key, permission: 'agents:invoke:agt_42' });
    assert.equal(v.code, 'DISABLED');
    assert.equal(v.valid, false);
    const again = await call(t, 'POST', `/v1/keys/${k.id}/disable`, {});
    assert.equal(again.body.disabledReason, 'suspicious traffic', 'a second disable keeps the reason');
    const e = await call(t, 'POST', `/v1/keys/${k.id}/enable`);
    assert.equal(e.status, 200);
    assert.equal(e.body.status, 'active');
    assert.equal((await verify(t, { key: k.key, permission: 'agents:invoke:agt_42' })).code, 'VALID');
  });

  test('regenerate without grace: the old secret dies now, the new one works, same id and configuration', async () => {
    const k = await createKey(t, { customerId: 'cus_r' });
    assert.equal((await verify(t, { key: k.key })).code, 'VALID');
    const r = await call(t, 'POST', `/v1/keys/${k.id}/regenerate`, {});
    assert.equal(r.status, 200);
    const fresh = r.body.key as string;
    const rec = r.body.record as Record<string, unknown>;
    assert.notEqual(fresh, k.key);
    assert.equal(rec.id, k.id);
    assert.equal(rec.customerId, 'cus_r');
    assert.equal(rec.start, fresh.slice(0, 12));
    assert.ok(rec.rotatedAt);
    assert.equal((await verify(t, { key: k.key })).code, 'EXPIRED');
    assert.equal((await verify(t, { key: fresh })).code, 'VALID');
  });

  test('regenerate with a grace period: the old secret works until the window ends', async () => {
    const k = await createKey(t);
    const r = await call(t, 'POST', `/v1/keys/${k.id}/regenerate`, { gracePeriodSeconds: 300 });
    const fresh = r.body.key as string;
    const old = await verify(t, { key: k.key });
    assert.equal(old.code, 'VALID');
    assert.ok(old.rotation, 'verification of the old secret reports the rotation');
    clock.advance(299);
    assert.equal((await verify(t, { key: k.key })).code, 'VALID');
    clock.advance(2);
    assert.equal((await verify(t, { key: k.key })).code, 'EXPIRED');
    assert.equal((await verify(t, { key: fresh })).code, 'VALID');
  });

  test('the key record shows an open grace window; end-grace stops the previous secret at once, audited', async () => {
    const k = await createKey(t);
    assert.equal((await call(t, 'GET', `/v1/keys/${k.id}`)).body.rotation, undefined);
    assert.equal((await call(t, 'POST', `/v1/keys/${k.id}/end-grace`)).status, 409, 'no window yet');
    const r = await call(t, 'POST', `/v1/keys/${k.id}/regenerate`, { gracePeriodSeconds: 86_400 });
    const fresh = r.body.key as string;
    const got = await call(t, 'GET', `/v1/keys/${k.id}`);
    const until = new Date(clock.now() + 86_400_000).toISOString();
    assert.deepEqual(got.body.rotation, { replacedAt: got.body.rotatedAt, previousExpiresAt: until });
    assert.equal((await verify(t, { key: k.key })).code, 'VALID', 'cached as valid before the end');
    const end = await call(t, 'POST', `/v1/keys/${k.id}/end-grace`);
    assert.equal(end.status, 200);
    assert.equal(end.body.rotation, undefined);
    assert.equal((await verify(t, { key: k.key })).code, 'EXPIRED', 'the cache was invalidated');
    assert.equal((await verify(t, { key: fresh })).code, 'VALID');
    assert.equal((await call(t, 'GET', `/v1/keys/${k.id}`)).body.rotation, undefined);
    assert.equal((await call(t, 'POST', `/v1/keys/${k.id}/end-grace`)).status, 409, 'nothing left to end');
    const audit = await call(t, 'GET', `/v1/audit?target=${k.id}`);
    const entry = (audit.body.items as { action: string; after: Record<string, unknown> }[]).find(
      (e) => e.action === 'key.end-grace',
    );
    assert.ok(entry, 'audited');
    assert.deepEqual(
      (entry.after.graceWindowEnded as { previousExpiresAt: string }).previousExpiresAt,
      until,
    );
    assert.ok(!JSON.stringify(audit.body).includes(k.key.slice(12, -4)), 'no secret in the audit');
  });

  test('delete reclaims: DELETED on verify, record kept, name free again, no further changes', async () => {
    const k = await createKey(t, { name: 'crm-prod-reclaim-me' });
    const d = await call(t, 'DELETE', `/v1/keys/${k.id}`);
    assert.equal(d.status, 200);
    assert.equal(d.body.status, 'deleted');
    const gone = await verify(t, { key: k.key });
    assert.deepEqual(
      [gone.code, gone.detail],
      ['DELETED', 'the key was deleted: it is no longer accepted and cannot be restored'],
    );
    assert.equal((await call(t, 'GET', `/v1/keys/${k.id}`)).body.status, 'deleted');
    assert.equal((await call(t, 'POST', `/v1/keys/${k.id}/enable`)).status, 409);
    assert.equal((await call(t, 'POST', `/v1/keys/${k.id}/regenerate`)).status, 409);
    assert.equal((await call(t, 'PATCH', `/v1/keys/${k.id}`, { purpose: 'x' })).status, 409);
    const again = await call(t, 'POST', '/v1/keys', aKey({ name: 'crm-prod-reclaim-me' }));
    assert.equal(again.status, 201);
  });

  test('expiry: a key past expiresAt is EXPIRED and listed as expired', async () => {
    const exp = new Date(clock.now() + 60_000).toISOString();
    const k = await createKey(t, { name: 'crm-prod-short-lived', expiresAt: exp });
    assert.equal((await verify(t, { key: k.key })).code, 'VALID');
    clock.advance(61);
    assert.equal((await verify(t, { key: k.key })).code, 'EXPIRED');
    assert.equal((await call(t, 'GET', `/v1/keys/${k.id}`)).body.status, 'expired');
    const list = await call(t, 'GET', '/v1/keys?status=expired');
    assert.ok((list.body.items as { id: string }[]).some((x) => x.id === k.id));
    const active = await call(t, 'GET', '/v1/keys?status=active&limit=500');
    assert.ok(!(active.body.items as { id: string }[]).some((x) => x.id === k.id));
  });

  test('concurrent patches of one key lose no update (optimistic versioning with retry)', async () => {
    const k = await createKey(t);
    const fields = ['a', 'b', 'c', 'd', 'e', 'f'];
    const results = await Promise.all(
      fields.map((f) => call(t, 'PATCH', `/v1/keys/${k.id}`, { purpose: f })),
    );
    for (const r of results) assert.equal(r.status, 200, r.raw);
    const final = await call(t, 'GET', `/v1/keys/${k.id}`);
    assert.equal(final.body.version, 1 + fields.length, 'every patch was applied once');
  });
  return { clock };
});
