import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ADMIN_PERMISSIONS, type AdminPermission } from '../core/model.js';
import { aKey, call, verify, type Reply, type TestServer, describeEachDialect } from '../testing/harness.js';

/**
 * The team boundary, proved on every route the OpenAPI document lists (a new route joins the
 * matrix by existing): global single-permission keys, each permission of two teams' keys, an
 * ordinary key, none and a disabled admin key. A team key aimed at the other team must be
 * refused and must never see anything of it (ids, names, contacts, URLs) in any answer.
 */

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
interface Route {
  method: Method;
  path: string;
  permission: AdminPermission;
  /** A second permission the route needs ("Also needs `keys:read`" in its description). */
  also: AdminPermission | undefined;
  globalOnly: boolean;
}

/** What a team owns, and the strings that must never reach another team. */
interface Estate {
  team: string;
  keyId: string;
  keyPlain: string;
  adminTargetId: string;
  webhookId: string;
  memberId: string;
  identityId: string;
  /** Team keys, one per admin permission. */
  admins: Map<AdminPermission, string>;
  markers: string[];
}

async function routesOf(t: TestServer): Promise<Route[]> {
  const doc = (await call(t, 'GET', '/openapi.json', undefined, null)).body as {
    paths: Record<string, Record<string, { description?: string }>>;
  };
  const out: Route[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const m = /Requires the admin permission `([^`]+)`/.exec(op.description ?? '');
      if (m === null) continue;
      out.push({
        method: method.toUpperCase() as Method,
        path,
        permission: m[1] as AdminPermission,
        also: /Also needs `([^`]+)`/.exec(op.description ?? '')?.[1] as AdminPermission | undefined,
        globalOnly: /Global admin keys only/.test(op.description ?? ''),
      });
    }
  }
  return out;
}

/** The URL of a route aimed at `target`'s resources; a path parameter this test does not know fails it. */
function urlFor(r: Route, target: Estate): string {
  return r.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    if (name === 'team') return target.team;
    // Roles are deployment-wide: every caller aims at the same one (docs/roles.md).
    if (name === 'name' && r.path.startsWith('/v1/roles/')) return 'matrix-role';
    if (name !== 'id') throw new Error(`${r.method} ${r.path}: unknown path parameter {${name}}`);
    if (r.path.startsWith('/v1/keys/')) return target.keyId;
    if (r.path.startsWith('/v1/admin-keys/')) return target.adminTargetId;
    if (r.path.startsWith('/v1/webhooks/')) return target.webhookId;
    if (r.path.startsWith('/v1/members/')) return target.memberId;
    if (r.path.startsWith('/v1/identities/')) return target.identityId;
    throw new Error(`${r.method} ${r.path}: no resource of this kind in the test estate`);
  });
}

/** A body that reaches the route's logic (not only its validation), aimed at `target` as `callerTeam`. */
function bodyFor(r: Route, target: Estate, callerTeam: string): unknown {
  if (r.method === 'GET' || r.method === 'DELETE') return undefined;
  const key = `${r.method} ${r.path}`;
  switch (key) {
    case 'POST /v1/keys':
      return aKey({
        name: `${callerTeam}-prod-made${Math.random().toString(36).slice(2, 8)}`,
        owner: { team: callerTeam, contact: `made@${callerTeam}.example` },
      });
    case 'PATCH /v1/keys/{id}':
      return { purpose: 'changed' };
    case 'POST /v1/identities':
      return { externalId: `${callerTeam}-made-${Math.random().toString(36).slice(2, 10)}` };
    case 'PATCH /v1/identities/{id}':
      return { name: 'changed' };
    case 'POST /v1/keys/{id}/narrowing':
      return { permissions: [], days: 7 };
    case 'POST /v1/roles':
      return { name: `made-${Math.random().toString(36).slice(2, 8)}`, permissions: ['docs:read'] };
    case 'PATCH /v1/roles/{name}':
      return { description: 'changed' };
    case 'POST /v1/keys/import':
      return {
        keys: [
          {
            ...aKey({
              name: `${callerTeam}-prod-imp${Math.random().toString(36).slice(2, 8)}`,
              owner: { team: callerTeam, contact: `imp@${callerTeam}.example` },
            }),
            key: `sk_live_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`,
          },
          // Aimed at the target's team: a team-scoped caller gets it refused (FORBIDDEN), item by item.
          {
            ...aKey({
              name: `${target.team}-prod-imp${Math.random().toString(36).slice(2, 8)}`,
              owner: { team: target.team, contact: `imp@${target.team}.example` },
            }),
            key: `sk_live_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`,
          },
        ],
      };
    case 'POST /v1/verify':
      return { key: target.keyPlain, environment: 'production' };
    case 'POST /v1/leaks':
      return { text: `found in a paste: ${target.keyPlain}` };
    case 'POST /v1/admin-keys':
      return { name: 'made-by-matrix', permissions: ['admin:manage'] };
    case 'POST /v1/members':
      return { email: `made-${Math.random().toString(36).slice(2, 10)}@matrix.example`, role: 'operator' };
    case 'PATCH /v1/members/{id}':
      return { name: 'changed by the matrix' };
    case 'POST /v1/webhooks':
      return { url: 'https://93.184.216.34/matrix-hook', events: ['key.disabled'] };
    case 'PUT /v1/teams/{team}/policy':
      return { requireOwner: true };
    default:
      return {};
  }
}

function assertProblem(res: Reply, where: string): void {
  assert.match(String(res.headers['content-type']), /application\/problem\+json/, where);
  assert.ok(typeof res.body.detail === 'string' && res.body.detail.length > 10, `${where}: ${res.raw}`);
}

describeEachDialect('the team boundary on every route', (t) => {
  let routes: Route[];
  const estates = new Map<string, Estate>();
  const globals = new Map<AdminPermission, string>();
  let disabledAdmin: string;
  const estateOf = (team: string): Estate => {
    const e = estates.get(team);
    assert.ok(e !== undefined, team);
    return e;
  };

  async function admin(body: Record<string, unknown>, by = t.root): Promise<{ key: string; id: string }> {
    const r = await call(t, 'POST', '/v1/admin-keys', body, by);
    assert.equal(r.status, 201, r.raw);
    return { key: r.body.key as string, id: (r.body.record as { id: string }).id };
  }

  async function estate(team: string): Promise<Estate> {
    const contact = `oncall@${team}-people.example`;
    const k = await call(
      t,
      'POST',
      '/v1/keys',
      aKey({ name: `${team}-prod-boundary`, owner: { team, contact } }),
    );
    assert.equal(k.status, 201, k.raw);
    const keyId = (k.body.record as { id: string }).id;
    const admins = new Map<AdminPermission, string>();
    const adminIds: string[] = [];
    for (const p of ADMIN_PERMISSIONS) {
      const a = await admin({ name: `${team}-admin-${p}`, permissions: [p], team });
      admins.set(p, a.key);
      adminIds.push(a.id);
    }
    // The admin key other callers aim at: `admin:manage` only, so a global admin:manage key may act on it.
    const target = await admin({ name: `${team}-target-admin`, permissions: ['admin:manage'], team });
    const url = `https://93.184.216.34/${team}-hook?token=${team}-hook-token`;
    const w = await call(
      t,
      'POST',
      '/v1/webhooks',
      { url, events: ['key.disabled', 'key.leaked'], description: `${team}-hook-description` },
      admins.get('*'),
    );
    assert.equal(w.status, 201, w.raw);
    const webhookId = (w.body.record as { id: string }).id;
    const idn = await call(t, 'POST', '/v1/identities', {
      externalId: `${team}-customer-ext`,
      name: `${team}-customer-name`,
      owner: { team, contact: `billing@${team}-people.example` },
    });
    assert.equal(idn.status, 201, idn.raw);
    const identityId = idn.body.id as string;
    const p = await call(t, 'PUT', `/v1/teams/${team}/policy`, {
      naming: { denyList: [`${team}-banned`] },
    });
    assert.equal(p.status, 200, p.raw);
    const memberEmail = `person@${team}-members.example`;
    const m = await call(t, 'POST', '/v1/members', {
      email: memberEmail,
      name: `${team}-member-name`,
      role: 'operator',
      team,
    });
    assert.equal(m.status, 201, m.raw);
    const memberId = m.body.id as string;
    return {
      team,
      keyId,
      keyPlain: k.body.key as string,
      adminTargetId: target.id,
      webhookId,
      identityId,
      memberId,
      admins,
      markers: [
        memberId,
        memberEmail,
        `${team}-member-name`,
        identityId,
        `${team}-customer-ext`,
        `${team}-customer-name`,
        `billing@${team}-people.example`,
        keyId,
        `${team}-prod-boundary`,
        contact,
        target.id,
        `${team}-target-admin`,
        ...adminIds,
        ...ADMIN_PERMISSIONS.map((x) => `${team}-admin-${x}`),
        webhookId,
        `${team}-hook`,
        `${team}-hook-token`,
        `${team}-banned`,
        (k.body.record as { start: string }).start,
      ],
    };
  }

  before(async () => {
    for (const team of ['alpha', 'bravo', 'gamma']) estates.set(team, await estate(team));
    for (const p of ADMIN_PERMISSIONS)
      globals.set(p, (await admin({ name: `global-${p}`, permissions: [p] })).key);
    const d = await admin({ name: 'global-disabled', permissions: ['*'] });
    assert.equal((await call(t, 'POST', `/v1/admin-keys/${d.id}/disable`)).status, 200);
    disabledAdmin = d.key;
    // The role the /v1/roles/{name} routes aim at; recreated when a matrix call deleted it.
    assert.equal(
      (await call(t, 'POST', '/v1/roles', { name: 'matrix-role', permissions: ['docs:read'] })).status,
      201,
    );
    routes = await routesOf(t);
  });

  test('the matrix covers the admin routes, including the boundary-specific ones', () => {
    const names = new Set(routes.map((r) => `${r.method} ${r.path}`));
    for (const r of [
      'GET /v1/audit',
      'GET /v1/audit/verify',
      'PUT /v1/policy',
      'PUT /v1/teams/{team}/policy',
      'GET /v1/teams/{team}/policy',
      'GET /v1/webhooks',
      'GET /v1/webhooks/{id}/deliveries',
      'POST /v1/admin-keys/{id}/regenerate',
      'POST /v1/identities',
      'GET /v1/identities',
      'GET /v1/identities/{id}',
      'PATCH /v1/identities/{id}',
      'DELETE /v1/identities/{id}',
      'GET /v1/identities/{id}/usage',
      'POST /v1/roles',
      'GET /v1/roles/{name}',
      'DELETE /v1/roles/{name}',
      'POST /v1/keys/import',
      'POST /v1/members',
      'PATCH /v1/members/{id}',
      'DELETE /v1/members/{id}',
    ])
      assert.ok(names.has(r), `${r} missing`);
    assert.deepEqual(
      routes
        .filter((r) => r.globalOnly)
        .map((r) => `${r.method} ${r.path}`)
        .sort(),
      [
        'GET /v1/audit/verify',
        'PUT /v1/policy',
        'POST /v1/policy/preview',
        'POST /v1/roles',
        'PATCH /v1/roles/{name}',
        'DELETE /v1/roles/{name}',
      ]
        .filter((r) => names.has(r))
        .sort(),
    );
  });

  test('no key, an ordinary key and a disabled admin key get 401 everywhere', async () => {
    const gamma = estateOf('gamma');
    for (const [label, key] of [
      ['none', null],
      ['ordinary', gamma.keyPlain],
      ['disabled', disabledAdmin],
    ] as const) {
      for (const r of routes) {
        const res = await call(t, r.method, urlFor(r, gamma), bodyFor(r, gamma, 'gamma'), key);
        assert.equal(res.status, 401, `${label} ${r.method} ${r.path}: ${res.raw}`);
        assertProblem(res, `${label} ${r.method} ${r.path}`);
      }
    }
  });

  test('global single-permission keys pass exactly the routes of their permission', async () => {
    const gamma = estateOf('gamma');
    for (const [p, key] of globals) {
      for (const r of routes) {
        const res = await call(t, r.method, urlFor(r, gamma), bodyFor(r, gamma, 'gamma'), key);
        const where = `global ${p} ${r.method} ${r.path}: ${res.raw}`;
        assert.ok(res.status < 500, where);
        if (p === '*' || (p === r.permission && r.also === undefined)) {
          // Past the permission gate. A member's role holds more than `admin:manage` alone, so
          // the member hierarchy (not the gate) may refuse that key: a 403 saying so.
          const hierarchy =
            r.path.startsWith('/v1/members') &&
            /^cannot (grant|change|remove) /.test(String(res.body.detail));
          assert.ok(res.status !== 401 && (res.status !== 403 || hierarchy), where);
        } else {
          assert.equal(res.status, 403, where);
          assert.match(String(res.body.detail), /lacks the "[a-z:*]+" permission/, where);
        }
      }
    }
  });

  for (const [caller, other] of [
    ['alpha', 'bravo'],
    ['bravo', 'alpha'],
  ] as const) {
    test(`${caller}'s keys, each permission, never reach or see ${other}`, async () => {
      const mine = estateOf(caller);
      const theirs = estateOf(other);
      for (const [p, key] of mine.admins) {
        for (const r of routes) {
          const url = urlFor(r, theirs);
          const body = bodyFor(r, theirs, caller);
          const res = await call(t, r.method, url, body, key);
          const where = `${caller} ${p} ${r.method} ${url}: ${res.raw.slice(0, 400)}`;
          assert.ok(res.status < 500, where);
          if (p !== '*' && (p !== r.permission || r.also !== undefined)) assert.equal(res.status, 403, where);
          else if (r.globalOnly) {
            assert.equal(res.status, 403, where);
            assert.match(String(res.body.detail), /limited to team/, where);
          } else if (r.path.includes('{')) assert.ok([403, 404].includes(res.status), where);
          if (res.status >= 400) assertProblem(res, where);
          // Nothing of the other team, except what the caller itself put in the request.
          const asked = url + JSON.stringify(body ?? '');
          for (const marker of theirs.markers) {
            if (asked.includes(marker)) continue;
            assert.ok(!res.raw.includes(marker), `${where}\n  leaks ${marker}`);
          }
        }
      }
      // The other team's estate is untouched.
      assert.equal((await verify(t, { key: theirs.keyPlain })).code, 'VALID');
      const hooks = await call(t, 'GET', '/v1/webhooks', undefined, theirs.admins.get('admin:manage'));
      assert.ok(JSON.stringify(hooks.body).includes(theirs.webhookId));
      const target = await call(t, 'GET', `/v1/admin-keys/${theirs.adminTargetId}`);
      assert.equal((target.body as { status: string }).status, 'active');
    });
  }
});
