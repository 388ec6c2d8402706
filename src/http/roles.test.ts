import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock, call, createKey, describeEachDialect, verify } from '../testing/harness.js';

const day = 86_400_000;

describeEachDialect('roles', (t) => {
  const clock = new ManualClock(Date.parse('2026-06-01T09:00:00.000Z'));
  const exp = (days: number): string => new Date(clock.now() + days * day).toISOString();
  const teamAdmin = async (permissions: string[]): Promise<string> => {
    const r = await call(t, 'POST', '/v1/admin-keys', {
      name: `crm-${permissions.join('-')}`,
      permissions,
      team: 'crm',
    });
    assert.equal(r.status, 201, r.raw);
    return r.body.key as string;
  };

  test('create, read, list; names are unique; team-scoped admins read but cannot change roles', async () => {
    const c = await call(t, 'POST', '/v1/roles', {
      name: 'billing-reader',
      permissions: ['billing:read', 'invoices:read'],
      description: 'read billing data',
    });
    assert.equal(c.status, 201, c.raw);
    assert.deepEqual(c.body.permissions, ['billing:read', 'invoices:read']);
    assert.equal(c.body.keys, 0);
    const dup = await call(t, 'POST', '/v1/roles', { name: 'billing-reader', permissions: [] });
    assert.equal(dup.status, 409);
    assert.match(String(dup.body.detail), /already exists/);
    const bad = await call(t, 'POST', '/v1/roles', { name: 'x', permissions: ['not a permission'] });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.detail), /permissions\[0\]/);
    assert.equal((await call(t, 'POST', '/v1/roles', { name: 'Upper', permissions: [] })).status, 400);

    const scoped = await teamAdmin(['keys:read', 'keys:write']);
    const made = await call(t, 'POST', '/v1/roles', { name: 'team-made', permissions: [] }, scoped);
    assert.equal(made.status, 403, made.raw);
    assert.match(String(made.body.detail), /limited to team "crm"/);
    assert.equal(
      (await call(t, 'PATCH', '/v1/roles/billing-reader', { description: 'x' }, scoped)).status,
      403,
    );
    assert.equal((await call(t, 'DELETE', '/v1/roles/billing-reader', undefined, scoped)).status, 403);
    const listed = await call(t, 'GET', '/v1/roles', undefined, scoped);
    assert.equal(listed.status, 200);
    assert.ok((listed.body.items as { name: string }[]).some((r) => r.name === 'billing-reader'));
    assert.equal((await call(t, 'GET', '/v1/roles/billing-reader', undefined, scoped)).status, 200);
    assert.equal((await call(t, 'GET', '/v1/roles/nope')).status, 404);
    // A team-scoped admin assigns roles to its own keys.
    const k = await call(
      t,
      'POST',
      '/v1/keys',
      {
        name: 'crm-prod-scoped-role',
        environment: 'production',
        owner: { team: 'crm', contact: 'c@x' },
        roles: ['billing-reader'],
        expiresAt: exp(30),
      },
      scoped,
    );
    assert.equal(k.status, 201, k.raw);
    assert.deepEqual((k.body.record as { roles: string[] }).roles, ['billing-reader']);
  });

  test('a key holds its own permissions plus its roles; unknown roles are 422', async () => {
    await call(t, 'POST', '/v1/roles', { name: 'agents', permissions: ['agents:invoke', 'agents:list'] });
    const unknown = await call(t, 'POST', '/v1/keys', {
      name: 'crm-prod-unknown-role',
      environment: 'production',
      owner: { team: 'crm', contact: 'c@x' },
      roles: ['agents', 'ghost', 'phantom'],
      expiresAt: exp(30),
    });
    assert.equal(unknown.status, 422, unknown.raw);
    assert.match(String(unknown.body.detail), /unknown roles "ghost", "phantom"/);
    const { key, id } = await createKey(t, { permissions: ['files:read'], roles: ['agents'] });
    const v = await verify(t, { key, permissions: ['agents:invoke', 'files:read'] });
    assert.equal(v.code, 'VALID');
    assert.deepEqual(v.permissions, ['files:read', 'agents:invoke', 'agents:list']);
    assert.equal((await verify(t, { key, permission: 'billing:read' })).code, 'INSUFFICIENT_PERMISSIONS');
    // Patching the key's roles changes its answer at once.
    const p = await call(t, 'PATCH', `/v1/keys/${id}`, { roles: ['billing-reader'] });
    assert.equal(p.status, 200, p.raw);
    assert.equal((await verify(t, { key, permission: 'billing:read' })).code, 'VALID');
    assert.equal((await verify(t, { key, permission: 'agents:invoke' })).code, 'INSUFFICIENT_PERMISSIONS');
    const bad = await call(t, 'PATCH', `/v1/keys/${id}`, { roles: ['ghost'] });
    assert.equal(bad.status, 422);
    assert.equal((await call(t, 'GET', `/v1/keys/${id}`)).body.version, 2, 'the refused patch wrote nothing');
  });

  test('PATCH of a role changes every holding key’s answer; cached entries are dropped', async () => {
    const role = await call(t, 'POST', '/v1/roles', { name: 'reports', permissions: ['reports:read'] });
    assert.equal(role.status, 201);
    const a = await createKey(t, { permissions: [], roles: ['reports'] });
    const b = await createKey(t, { permissions: [], roles: ['reports'] });
    for (const k of [a, b])
      assert.equal((await verify(t, { key: k.key, permission: 'reports:read' })).code, 'VALID');
    // Cached now: the next answer needs no storage (a hit).
    const hits = (): number => t.kw.services.ctx.metrics.cache.hit.n;
    const before = hits();
    assert.equal((await verify(t, { key: a.key, permission: 'reports:read' })).code, 'VALID');
    assert.equal(hits(), before + 1);
    const p = await call(t, 'PATCH', '/v1/roles/reports', { permissions: ['reports:export'] });
    assert.equal(p.status, 200, p.raw);
    assert.equal(p.body.keys, 2);
    for (const k of [a, b]) {
      assert.equal(
        (await verify(t, { key: k.key, permission: 'reports:read' })).code,
        'INSUFFICIENT_PERMISSIONS',
      );
      assert.equal((await verify(t, { key: k.key, permission: 'reports:export' })).code, 'VALID');
    }
    const audit = await call(t, 'GET', '/v1/audit?action=role.update&target=role:reports');
    const entry = (
      audit.body.items as { before: { permissions: string[] }; after: { keyIds: string[] } }[]
    )[0];
    assert.deepEqual(entry?.before.permissions, ['reports:read']);
    assert.deepEqual(entry?.after.keyIds.sort(), [a.id, b.id].sort());
  });

  test('policy applies to the effective set, on key changes and on role changes', async () => {
    await call(t, 'POST', '/v1/roles', { name: 'everything', permissions: ['*'] });
    const wild = await call(t, 'POST', '/v1/keys', {
      name: 'crm-prod-wild-role',
      environment: 'production',
      owner: { team: 'crm', contact: 'c@x' },
      roles: ['everything'],
      expiresAt: exp(30),
    });
    assert.equal(wild.status, 422, wild.raw);
    assert.match(String(wild.body.detail), /allowWildcards/);
    // A development key may hold it (wildcards are allowed outside production by default).
    const dev = await createKey(t, {
      name: 'crm-dev-wild',
      environment: 'development',
      roles: ['everything'],
    });
    assert.ok(dev.id);
    await call(t, 'POST', '/v1/roles', { name: 'narrow', permissions: ['docs:read'] });
    const prod = await createKey(t, { name: 'crm-prod-narrow', roles: ['narrow'] });
    const widen = await call(t, 'PATCH', '/v1/roles/narrow', { permissions: ['docs:*'] });
    assert.equal(widen.status, 422, widen.raw);
    assert.match(
      String(widen.body.detail),
      new RegExp(`1 key holding role "narrow": ${prod.id} \\(crm-prod-narrow`),
    );
    assert.deepEqual((await call(t, 'GET', '/v1/roles/narrow')).body.permissions, ['docs:read']);
    const key = await call(t, 'PATCH', `/v1/keys/${prod.id}`, { roles: ['everything'] });
    assert.equal(key.status, 422, key.raw);
  });

  test('a role keys hold cannot be deleted (409 says how many); then it can, audited', async () => {
    await call(t, 'POST', '/v1/roles', { name: 'temp', permissions: ['temp:use'] });
    const a = await createKey(t, { roles: ['temp'] });
    const b = await createKey(t, { roles: ['temp'] });
    const refused = await call(t, 'DELETE', '/v1/roles/temp');
    assert.equal(refused.status, 409);
    assert.match(String(refused.body.detail), /still held by 2 keys/);
    assert.equal((await call(t, 'DELETE', `/v1/keys/${a.id}`)).status, 200);
    assert.match(String((await call(t, 'DELETE', '/v1/roles/temp')).body.detail), /held by 1 key;/);
    assert.equal((await call(t, 'PATCH', `/v1/keys/${b.id}`, { roles: [] })).status, 200);
    const ok = await call(t, 'DELETE', '/v1/roles/temp');
    assert.equal(ok.status, 200, ok.raw);
    assert.equal((await call(t, 'GET', '/v1/roles/temp')).status, 404);
    const actions = await call(t, 'GET', '/v1/audit?target=role:temp');
    assert.deepEqual((actions.body.items as { action: string }[]).map((e) => e.action).sort(), [
      'role.create',
      'role.delete',
    ]);
  });

  test('the governance report names a role matching the observed use exactly', async () => {
    await call(t, 'POST', '/v1/roles', { name: 'invoker', permissions: ['agents:invoke'] });
    const k = await createKey(t, {
      name: 'crm-prod-broad',
      permissions: ['agents:invoke', 'billing:charge'],
      expiresAt: exp(300),
    });
    clock.advance(8 * 86_400);
    assert.equal((await verify(t, { key: k.key, permission: 'agents:invoke' })).code, 'VALID');
    await t.kw.services.ctx.usage.flush();
    const r = await call(t, 'GET', '/v1/reports/governance');
    const f = (
      r.body.overPrivileged as { keyId: string; suggestedRole?: string; suggestedPermissions: string[] }[]
    ).find((x) => x.keyId === k.id);
    assert.deepEqual(f?.suggestedPermissions, ['agents:invoke']);
    assert.equal(f?.suggestedRole, 'invoker');
  });

  return { clock };
});
