import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aKey, call, verify, type Reply, describeEachDialect } from '../testing/harness.js';

/** The admin model: audit and policy boundaries, team policies, the admin-key hierarchy, leaked secrets. */

const inDays = (d: number): string => new Date(Date.now() + d * 86_400_000).toISOString();
const detailOf = (r: Reply): string => String(r.body.detail);

describeEachDialect('the admin model', (t) => {
  async function admin(body: Record<string, unknown>, by = t.root): Promise<{ key: string; id: string }> {
    const r = await call(t, 'POST', '/v1/admin-keys', body, by);
    assert.equal(r.status, 201, r.raw);
    return { key: r.body.key as string, id: (r.body.record as { id: string }).id };
  }
  async function key(team: string, over: Record<string, unknown> = {}, by = t.root) {
    const r = await call(
      t,
      'POST',
      '/v1/keys',
      aKey({
        name: `${team}-prod-${Math.random().toString(36).slice(2, 8)}`,
        owner: { team, contact: `c@${team}.example` },
        ...over,
      }),
      by,
    );
    assert.equal(r.status, 201, r.raw);
    return { key: r.body.key as string, id: (r.body.record as { id: string }).id };
  }

  test('the last active global * key can be neither disabled nor deleted (409)', async () => {
    const rootId = (
      (await call(t, 'GET', '/v1/admin-keys')).body.items as { id: string; name: string }[]
    ).find((a) => a.name === 'root')?.id;
    assert.ok(rootId !== undefined);
    // A team * key does not count: it cannot administer the deployment.
    await admin({ name: 'alpha-root', permissions: ['*'], team: 'alpha' });
    for (const [m, url] of [
      ['POST', `/v1/admin-keys/${rootId}/disable`],
      ['DELETE', `/v1/admin-keys/${rootId}`],
    ] as const) {
      const r = await call(t, m, url, m === 'POST' ? {} : undefined);
      assert.equal(r.status, 409, r.raw);
      assert.equal(r.body.code, 'CONFLICT');
      assert.match(detailOf(r), /last active global "\*" admin key/);
    }
    assert.equal((await call(t, 'GET', '/v1/keys')).status, 200, 'root still works');
    const second = await admin({ name: 'second-root', permissions: ['*'] });
    assert.equal((await call(t, 'POST', `/v1/admin-keys/${rootId}/disable`, {}, second.key)).status, 200);
    const last = await call(t, 'DELETE', `/v1/admin-keys/${second.id}`, undefined, second.key);
    assert.equal(last.status, 409, 'second is now the last one');
    assert.equal((await call(t, 'POST', `/v1/admin-keys/${rootId}/enable`, {}, second.key)).status, 200);
  });

  test('acting on an admin key needs its permissions and a scope that includes its team', async () => {
    const rootId = (
      (await call(t, 'GET', '/v1/admin-keys')).body.items as { id: string; name: string }[]
    ).find((a) => a.name === 'root')?.id as string;
    const manager = await admin({ name: 'global-manager', permissions: ['admin:manage'] });
    for (const action of ['disable', 'regenerate']) {
      const r = await call(t, 'POST', `/v1/admin-keys/${rootId}/${action}`, {}, manager.key);
      assert.equal(r.status, 403, r.raw);
      assert.match(detailOf(r), /holds "\*"/);
    }
    assert.equal((await call(t, 'DELETE', `/v1/admin-keys/${rootId}`, undefined, manager.key)).status, 403);
    const spare = await admin({ name: 'spare-star', permissions: ['*'] });
    assert.equal((await call(t, 'POST', `/v1/admin-keys/${spare.id}/disable`)).status, 200);
    assert.equal((await call(t, 'POST', `/v1/admin-keys/${spare.id}/enable`, {}, manager.key)).status, 403);
    // A team manager: not its team's * key, yes a key with a subset of its permissions, never another scope.
    const teamStar = await admin({ name: 'alpha-star', permissions: ['*'], team: 'alpha' });
    const teamMgr = await admin({
      name: 'alpha-mgr',
      permissions: ['admin:manage', 'keys:read'],
      team: 'alpha',
    });
    const reader = await admin({ name: 'alpha-reader', permissions: ['keys:read'], team: 'alpha' });
    assert.equal(
      (await call(t, 'POST', `/v1/admin-keys/${teamStar.id}/disable`, {}, teamMgr.key)).status,
      403,
    );
    assert.equal((await call(t, 'POST', `/v1/admin-keys/${reader.id}/disable`, {}, teamMgr.key)).status, 200);
    assert.equal((await call(t, 'POST', `/v1/admin-keys/${reader.id}/enable`, {}, teamMgr.key)).status, 200);
    assert.equal(
      (await call(t, 'POST', `/v1/admin-keys/${manager.id}/disable`, {}, teamStar.key)).status,
      404,
    );
    const bravoReader = await admin({ name: 'bravo-reader', permissions: ['keys:read'], team: 'bravo' });
    assert.equal(
      (await call(t, 'DELETE', `/v1/admin-keys/${bravoReader.id}`, undefined, teamStar.key)).status,
      404,
    );
  });

  test('an admin key made by an expiring one expires no later than its creator', async () => {
    const exp = inDays(1 / 24);
    const parent = await admin({
      name: 'short-lived',
      permissions: ['admin:manage', 'keys:write'],
      expiresAt: exp,
    });
    const child = await call(
      t,
      'POST',
      '/v1/admin-keys',
      { name: 'child', permissions: ['keys:write'] },
      parent.key,
    );
    assert.equal(child.status, 201, child.raw);
    assert.equal((child.body.record as { expiresAt: string }).expiresAt, exp);
    const longer = await call(
      t,
      'POST',
      '/v1/admin-keys',
      { name: 'child', permissions: ['keys:write'], expiresAt: inDays(30) },
      parent.key,
    );
    assert.equal(longer.status, 422, longer.raw);
    assert.match(detailOf(longer), /cannot outlive the key that creates it/);
    const shorter = await call(
      t,
      'POST',
      '/v1/admin-keys',
      { name: 'child', permissions: ['keys:write'], expiresAt: inDays(1 / 48) },
      parent.key,
    );
    assert.equal(shorter.status, 201);
  });

  test('admin keys record lastUsedAt (at most once a minute) and can be regenerated', async () => {
    const a = await admin({ name: 'user', permissions: ['keys:read'] });
    assert.equal((await call(t, 'GET', '/v1/keys', undefined, a.key)).status, 200);
    let used: string | null = null;
    for (let i = 0; i < 50 && used === null; i++) {
      await new Promise((r) => setTimeout(r, 20));
      used = ((await call(t, 'GET', `/v1/admin-keys/${a.id}`)).body as { lastUsedAt: string | null })
        .lastUsedAt;
    }
    assert.ok(used !== null, 'lastUsedAt was written');
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await call(t, 'GET', '/v1/keys', undefined, a.key)).status, 200);
    await new Promise((r) => setTimeout(r, 100));
    const again = (await call(t, 'GET', `/v1/admin-keys/${a.id}`)).body as { lastUsedAt: string };
    assert.equal(again.lastUsedAt, used, 'not rewritten within the minute');

    const r = await call(t, 'POST', `/v1/admin-keys/${a.id}/regenerate`, {});
    assert.equal(r.status, 200, r.raw);
    const fresh = r.body.key as string;
    assert.notEqual(fresh, a.key);
    assert.equal((r.body.record as { id: string }).id, a.id);
    assert.equal((await call(t, 'GET', '/v1/keys', undefined, a.key)).status, 401, 'old secret dead');
    assert.equal((await call(t, 'GET', '/v1/keys', undefined, fresh)).status, 200);
    const audit = await call(t, 'GET', `/v1/audit?target=${a.id}&action=admin_key.regenerate`);
    assert.equal((audit.body.items as unknown[]).length, 1);
    assert.ok(!audit.raw.includes(fresh), 'no secret in the audit');
  });

  test('a key whose secret leaked is enabled again only after regenerate (409 before)', async () => {
    const k = await key('alpha');
    const idle = await key('alpha');
    assert.equal((await call(t, 'POST', `/v1/keys/${idle.id}/disable`, {})).status, 200);
    const leak = await call(t, 'POST', '/v1/leaks', { text: `oops ${k.key} and ${idle.key}` });
    assert.equal(leak.status, 200, leak.raw);
    for (const id of [k.id, idle.id]) {
      const en = await call(t, 'POST', `/v1/keys/${id}/enable`, {});
      assert.equal(en.status, 409, en.raw);
      assert.equal(en.body.code, 'CONFLICT');
      assert.match(detailOf(en), /leaked; regenerate it/);
    }
    assert.equal((await verify(t, { key: k.key })).code, 'DISABLED');
    const re = await call(t, 'POST', `/v1/keys/${k.id}/regenerate`, {});
    assert.equal(re.status, 200);
    assert.equal((await call(t, 'POST', `/v1/keys/${k.id}/enable`, {})).status, 200);
    assert.equal((await verify(t, { key: re.body.key })).code, 'VALID');
    assert.notEqual((await verify(t, { key: k.key })).code, 'VALID');

    const a = await admin({ name: 'leaky', permissions: ['keys:read'] });
    assert.equal((await call(t, 'POST', '/v1/leaks', { text: a.key })).status, 200);
    const en = await call(t, 'POST', `/v1/admin-keys/${a.id}/enable`, {});
    assert.equal(en.status, 409, en.raw);
    assert.match(detailOf(en), /regenerate it/);
    const ra = await call(t, 'POST', `/v1/admin-keys/${a.id}/regenerate`, {});
    assert.equal(ra.status, 200);
    assert.equal((await call(t, 'POST', `/v1/admin-keys/${a.id}/enable`, {})).status, 200);
    assert.equal((await call(t, 'GET', '/v1/keys', undefined, ra.body.key as string)).status, 200);
    assert.equal((await call(t, 'GET', '/v1/keys', undefined, a.key)).status, 401);
  });

  test("a team-scoped admin's keys keep its team", async () => {
    const w = await admin({
      name: 'alpha-writer',
      permissions: ['keys:write', 'keys:read'],
      team: 'alpha',
    });
    const k = await key('alpha', {}, w.key);
    for (const owner of [null, { team: null }, { team: 'bravo' }]) {
      const r = await call(t, 'PATCH', `/v1/keys/${k.id}`, { owner }, w.key);
      assert.equal(r.status, 403, `${JSON.stringify(owner)}: ${r.raw}`);
      assert.match(detailOf(r), /team "alpha"|team "bravo"/);
    }
    const ok = await call(t, 'PATCH', `/v1/keys/${k.id}`, { owner: { contact: 'new@alpha.example' } }, w.key);
    assert.equal(ok.status, 200, ok.raw);
    assert.deepEqual((ok.body as { owner: unknown }).owner, {
      team: 'alpha',
      contact: 'new@alpha.example',
    });
  });

  test('team auditors read only their team; chain check and deployment policy are global only', async () => {
    const alphaKey = await key('alpha');
    const bravoKey = await key('bravo');
    const auditor = await admin({ name: 'alpha-auditor', permissions: ['audit:read'], team: 'alpha' });
    const seen = await call(t, 'GET', '/v1/audit?limit=200', undefined, auditor.key);
    assert.equal(seen.status, 200);
    const targets = (seen.body.items as { target: string }[]).map((e) => e.target);
    assert.ok(targets.includes(alphaKey.id));
    assert.ok(!targets.includes(bravoKey.id));
    assert.ok(!seen.raw.includes('bravo'), 'nothing of team bravo');
    assert.ok(!targets.includes('policy'));
    const v = await call(t, 'GET', '/v1/audit/verify', undefined, auditor.key);
    assert.equal(v.status, 403);
    assert.match(detailOf(v), /whole deployment/);
    assert.equal((await call(t, 'GET', '/v1/audit/verify')).status, 200);
    const pw = await admin({
      name: 'alpha-policy',
      permissions: ['policy:write', 'keys:read'],
      team: 'alpha',
    });
    const put = await call(t, 'PUT', '/v1/policy', { requireOwner: false }, pw.key);
    assert.equal(put.status, 403, put.raw);
    assert.equal(((await call(t, 'GET', '/v1/policy')).body as { requireOwner: boolean }).requireOwner, true);
  });

  test('team policies only tighten; keys, patches and the report follow them', async () => {
    const pw = await admin({
      name: 'alpha-pol',
      permissions: ['policy:write', 'keys:read', 'keys:write'],
      team: 'alpha',
    });
    const before = await key('alpha', { expiresAt: inDays(200) });
    const bravo = await key('bravo', { expiresAt: inDays(200) });
    for (const [body, rule] of [
      [{ requireOwner: false }, 'requireOwner'],
      [{ environments: { production: { maxLifetimeDays: 400 } } }, 'environments.production.maxLifetimeDays'],
      [
        { environments: { production: { maxLifetimeDays: null } } },
        'environments.production.maxLifetimeDays',
      ],
      [{ environments: { production: { allowWildcards: true } } }, 'environments.production.allowWildcards'],
      [{ naming: { requireEnvironmentSegment: false } }, 'naming.requireEnvironmentSegment'],
      [{ staleAfterDays: 120 }, 'staleAfterDays'],
    ] as const) {
      const r = await call(t, 'PUT', '/v1/teams/alpha/policy', body, pw.key);
      assert.equal(r.status, 422, r.raw);
      assert.equal(r.body.code, 'POLICY_VIOLATION');
      assert.ok(detailOf(r).includes(rule), `${rule}: ${detailOf(r)}`);
    }
    assert.equal((await call(t, 'PUT', '/v1/teams/bravo/policy', {}, pw.key)).status, 403);
    const tight = {
      naming: { pattern: '^alpha-' },
      environments: {
        production: {
          maxLifetimeDays: 30,
          defaultRateLimit: { name: 'team', limit: 10, windowSeconds: 60 },
        },
      },
    };
    const put = await call(t, 'PUT', '/v1/teams/alpha/policy', tight, pw.key);
    assert.equal(put.status, 200, put.raw);
    const eff = (await call(t, 'GET', '/v1/teams/alpha/policy', undefined, pw.key)).body as {
      naming: { pattern: string; teamPattern: string };
      environments: { production: { maxLifetimeDays: number; allowWildcards: boolean } };
    };
    assert.equal(eff.naming.teamPattern, '^alpha-');
    assert.equal(eff.naming.pattern, '^[a-z0-9]+(-[a-z0-9]+){2,}$');
    assert.equal(eff.environments.production.maxLifetimeDays, 30);
    assert.equal(
      ((await call(t, 'GET', '/v1/teams/bravo/policy')).body as typeof eff).environments.production
        .maxLifetimeDays,
      365,
    );

    const misnamed = await call(
      t,
      'POST',
      '/v1/keys',
      aKey({ name: 'crm-prod-sneaky', owner: { team: 'alpha', contact: 'c@x' } }),
      pw.key,
    );
    assert.equal(misnamed.status, 422);
    assert.match(detailOf(misnamed), /naming\.pattern.*team's naming pattern/);
    const tooLong = await call(
      t,
      'POST',
      '/v1/keys',
      aKey({ name: 'alpha-prod-long', owner: { team: 'alpha', contact: 'c@x' }, expiresAt: inDays(60) }),
      pw.key,
    );
    assert.equal(tooLong.status, 422);
    assert.match(detailOf(tooLong), /maxLifetimeDays/);
    const ok = await call(
      t,
      'POST',
      '/v1/keys',
      aKey({ name: 'alpha-prod-fine', owner: { team: 'alpha', contact: 'c@x' }, expiresAt: inDays(20) }),
      pw.key,
    );
    assert.equal(ok.status, 201, ok.raw);
    assert.deepEqual((ok.body.record as { ratelimits: unknown[] }).ratelimits, [
      { name: 'team', limit: 10, windowSeconds: 60 },
    ]);
    const okId = (ok.body.record as { id: string }).id;
    const patch = await call(t, 'PATCH', `/v1/keys/${okId}`, { expiresAt: inDays(90) }, pw.key);
    assert.equal(patch.status, 422, patch.raw);
    // A bravo key may still be named and live as the deployment allows.
    assert.equal(
      (
        await call(
          t,
          'POST',
          '/v1/keys',
          aKey({ name: 'crm-prod-bravoish', owner: { team: 'bravo', contact: 'c@x' } }),
        )
      ).status,
      201,
    );

    const report = (await call(t, 'GET', '/v1/reports/governance')).body as {
      nonCompliant: { keyId: string; reason: string }[];
    };
    const nc = report.nonCompliant.map((f) => f.keyId);
    assert.ok(nc.includes(before.id), 'the alpha key made before the tightening');
    assert.ok(!nc.includes(bravo.id), 'the bravo key follows the deployment policy');
    const audit = await call(
      t,
      'GET',
      '/v1/audit?action=team_policy.update',
      undefined,
      (await admin({ name: 'alpha-aud', permissions: ['audit:read'], team: 'alpha' })).key,
    );
    assert.equal((audit.body.items as unknown[]).length, 1);
  });

  test("a team's webhook receives only its team's events; global ones receive all", async () => {
    const alphaMgr = await admin({ name: 'alpha-hooks', permissions: ['admin:manage'], team: 'alpha' });
    const bravoMgr = await admin({ name: 'bravo-hooks', permissions: ['admin:manage'], team: 'bravo' });
    const hook = async (by: string, name: string): Promise<string> => {
      const r = await call(
        t,
        'POST',
        '/v1/webhooks',
        { url: `https://93.184.216.34/${name}`, events: ['key.disabled'] },
        by,
      );
      assert.equal(r.status, 201, r.raw);
      return (r.body.record as { id: string; team: string | null }).id;
    };
    const alphaHook = await hook(alphaMgr.key, 'alpha');
    const bravoHook = await hook(bravoMgr.key, 'bravo');
    const globalHook = await hook(t.root, 'global');
    const listed = await call(t, 'GET', '/v1/webhooks', undefined, alphaMgr.key);
    assert.deepEqual(
      (listed.body.items as { id: string }[]).map((h) => h.id),
      [alphaHook],
    );
    assert.equal((await call(t, 'DELETE', `/v1/webhooks/${bravoHook}`, undefined, alphaMgr.key)).status, 404);
    assert.equal(
      (await call(t, 'GET', `/v1/webhooks/${bravoHook}/deliveries`, undefined, alphaMgr.key)).status,
      404,
    );

    // (Within the alpha team policy set above: a 30-day lifetime at most.)
    const k = await key('alpha', { expiresAt: inDays(20) });
    assert.equal((await call(t, 'POST', `/v1/keys/${k.id}/disable`, {})).status, 200);
    const count = async (id: string): Promise<number> =>
      (
        (await call(t, 'GET', `/v1/webhooks/${id}/deliveries`)).body.items as {
          payload: { data: { keyId: string } };
        }[]
      ).filter((d) => d.payload.data.keyId === k.id).length;
    for (let i = 0; i < 50 && (await count(globalHook)) === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(await count(globalHook), 1);
    assert.equal(await count(alphaHook), 1);
    assert.equal(await count(bravoHook), 0);
  });
});
