import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ADMIN_PERMISSIONS, type AdminPermission } from '../core/model.js';
import { aKey, call, createKey, verify, type TestServer, describeEachDialect } from '../testing/harness.js';

interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  permission: AdminPermission;
}

/** Every admin route, read from the OpenAPI document so a new route cannot escape this suite. */
async function adminRoutes(t: TestServer, keyId: string, adminId: string): Promise<Route[]> {
  const doc = (await call(t, 'GET', '/openapi.json', undefined, null)).body as {
    paths: Record<string, Record<string, { description?: string }>>;
  };
  const routes: Route[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const m = /Requires the admin permission `([^`]+)`/.exec(op.description ?? '');
      if (m === null) continue;
      const url = path.replace('{id}', path.startsWith('/v1/admin-keys') ? adminId : keyId);
      routes.push({
        method: method.toUpperCase() as Route['method'],
        url,
        permission: m[1] as AdminPermission,
      });
    }
  }
  return routes;
}

describeEachDialect('admin route security', (t) => {
  let routes: Route[];
  let ordinaryKey: string;
  let crmKeyId: string;
  const limited = new Map<AdminPermission, string>();
  let disabledAdmin: string;
  let deletedAdmin: string;

  async function adminKey(body: Record<string, unknown>): Promise<{ key: string; id: string }> {
    const r = await call(t, 'POST', '/v1/admin-keys', body);
    assert.equal(r.status, 201, r.raw);
    return { key: r.body.key as string, id: (r.body.record as { id: string }).id };
  }

  before(async () => {
    const k = await createKey(t, { owner: { team: 'crm', contact: 'c@x' } });
    ordinaryKey = k.key;
    crmKeyId = k.id;
    // For each permission, an admin key holding every permission but that one.
    for (const p of ADMIN_PERMISSIONS) {
      if (p === '*') continue;
      const others = ADMIN_PERMISSIONS.filter((x) => x !== p && x !== '*');
      limited.set(p, (await adminKey({ name: `without-${p}`, permissions: others })).key);
    }
    const d = await adminKey({ name: 'to-disable', permissions: ['*'] });
    assert.equal((await call(t, 'POST', `/v1/admin-keys/${d.id}/disable`)).status, 200);
    disabledAdmin = d.key;
    const x = await adminKey({ name: 'to-delete', permissions: ['*'] });
    assert.equal((await call(t, 'DELETE', `/v1/admin-keys/${x.id}`)).status, 200);
    deletedAdmin = x.key;
    routes = await adminRoutes(t, crmKeyId, d.id);
  });

  test('the suite covers the admin routes of SPEC §3', () => {
    const names = routes.map((r) => `${r.method} ${r.url.replace(crmKeyId, '{id}')}`);
    for (const expected of [
      'POST /v1/keys',
      'GET /v1/keys',
      'GET /v1/keys/{id}',
      'PATCH /v1/keys/{id}',
      'DELETE /v1/keys/{id}',
      'POST /v1/keys/{id}/regenerate',
      'POST /v1/verify',
      'POST /v1/admin-keys',
      'GET /v1/audit',
      'GET /v1/audit/verify',
    ]) {
      assert.ok(names.includes(expected), `${expected} missing from ${names.join(', ')}`);
    }
  });

  const cases: [string, (r: Route) => string | null, number, RegExp][] = [
    ['no key', () => null, 401, /missing Authorization/],
    ['garbage', () => 'not-a-key', 401, /not a Keywarden admin key/],
    [
      'ordinary key used as admin key',
      () => ordinaryKey,
      401,
      /ordinary API key cannot be used as an admin key/,
    ],
    [
      'admin key lacking the permission',
      (r) => limited.get(r.permission) ?? '',
      403,
      /lacks the "[a-z:]+" permission/,
    ],
    ['disabled admin key', () => disabledAdmin, 401, /admin key is disabled/],
    ['deleted admin key', () => deletedAdmin, 401, /admin key is deleted/],
  ];
  for (const [name, keyFor, status, detail] of cases) {
    test(`every admin route refuses: ${name} → ${status}`, async () => {
      assert.ok(routes.length >= 15);
      for (const r of routes) {
        const res = await call(
          t,
          r.method,
          r.url,
          r.method === 'GET' || r.method === 'DELETE' ? undefined : {},
          keyFor(r),
        );
        assert.equal(res.status, status, `${r.method} ${r.url}: ${res.raw}`);
        assert.equal(res.body.code, status === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN');
        assert.match(String(res.body.detail), detail);
      }
    });
  }

  test('a malformed Authorization header is 401 (Basic, empty bearer, key with a typo)', async () => {
    for (const h of [
      'Basic dXNlcjpwYXNz',
      'Bearer',
      'Bearer ' + t.root.slice(0, -1) + (t.root.endsWith('A') ? 'B' : 'A'),
    ]) {
      const r = await call(t, 'GET', '/v1/keys', undefined, null, { authorization: h });
      assert.equal(r.status, 401, h);
    }
  });

  test('an expired admin key is refused', async () => {
    const exp = new Date(Date.now() + 1500).toISOString();
    const a = await adminKey({ name: 'short', permissions: ['keys:read'], expiresAt: exp });
    assert.equal((await call(t, 'GET', '/v1/keys', undefined, a.key)).status, 200);
    await new Promise((r) => setTimeout(r, 1600));
    const r = await call(t, 'GET', '/v1/keys', undefined, a.key);
    assert.equal(r.status, 401);
    assert.match(String(r.body.detail), /expired/);
  });

  test("a team-scoped admin key cannot reach another team's key", async () => {
    const ops = await adminKey({
      name: 'ops-admin',
      permissions: ['keys:read', 'keys:write', 'keys:rotate', 'keys:verify'],
      team: 'ops',
    });
    for (const [m, url] of [
      ['GET', `/v1/keys/${crmKeyId}`],
      ['PATCH', `/v1/keys/${crmKeyId}`],
      ['POST', `/v1/keys/${crmKeyId}/disable`],
      ['POST', `/v1/keys/${crmKeyId}/enable`],
      ['POST', `/v1/keys/${crmKeyId}/regenerate`],
      ['DELETE', `/v1/keys/${crmKeyId}`],
    ] as const) {
      const r = await call(
        t,
        m,
        url,
        m === 'PATCH' ? { purpose: 'steal' } : m === 'POST' ? {} : undefined,
        ops.key,
      );
      assert.equal(r.status, 404, `${m} ${url}: ${r.raw}`);
    }
    assert.equal((await call(t, 'GET', '/v1/keys?team=crm', undefined, ops.key)).status, 403);
    const listed = await call(t, 'GET', '/v1/keys', undefined, ops.key);
    assert.deepEqual(listed.body.items, []);
    const create = await call(
      t,
      'POST',
      '/v1/keys',
      { name: 'crm-prod-sneaky', environment: 'production', owner: { team: 'crm' } },
      ops.key,
    );
    assert.equal(create.status, 403);
    const own = await call(
      t,
      'POST',
      '/v1/keys',
      aKey({ name: 'ops-prod-deploy', owner: { contact: 'ops@example.com' } }),
      ops.key,
    );
    assert.equal(own.status, 201);
    assert.equal(
      (own.body.record as { owner: { team: string } }).owner.team,
      'ops',
      'defaults to the admin key team',
    );
    assert.equal((await verify(t, { key: ordinaryKey }, ops.key)).code, 'NOT_FOUND');
    assert.equal((await verify(t, { key: own.body.key }, ops.key)).code, 'VALID');
    // The key is untouched.
    assert.equal((await verify(t, { key: ordinaryKey })).code, 'VALID');
  });

  test('admin keys cannot grant what they do not hold, nor leave their team', async () => {
    const a = await adminKey({ name: 'mgr', permissions: ['admin:manage', 'keys:read'], team: 'ops' });
    const esc = await call(t, 'POST', '/v1/admin-keys', { name: 'x', permissions: ['*'] }, a.key);
    assert.equal(esc.status, 403);
    assert.match(String(esc.body.detail), /cannot grant "\*"/);
    const other = await call(
      t,
      'POST',
      '/v1/admin-keys',
      { name: 'x', permissions: ['keys:read'], team: 'crm' },
      a.key,
    );
    assert.equal(other.status, 403);
    const ok = await call(t, 'POST', '/v1/admin-keys', { name: 'x', permissions: ['keys:read'] }, a.key);
    assert.equal(ok.status, 201);
    assert.equal((ok.body.record as { team: string }).team, 'ops');
    const list = await call(t, 'GET', '/v1/admin-keys', undefined, a.key);
    assert.ok((list.body.items as { team: string }[]).every((x) => x.team === 'ops'));
  });

  test('the root key verifies; an admin key presented to verify is MALFORMED', async () => {
    assert.equal((await verify(t, { key: t.root })).code, 'MALFORMED');
  });
});
