import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock, aKey, call, createKey, describeEachDialect } from '../testing/harness.js';

describeEachDialect('console sessions', (t) => {
  const clock = new ManualClock(Date.now());

  async function signIn(
    adminKey: string,
  ): Promise<{ cookie: string; csrf: string; raw: string; status: number; setCookie: string }> {
    const r = await call(t, 'POST', '/console/api/session', { adminKey }, null);
    const setCookie = String(r.headers['set-cookie'] ?? '');
    return {
      cookie: setCookie.split(';')[0] ?? '',
      csrf: typeof r.body.csrfToken === 'string' ? r.body.csrfToken : '',
      raw: r.raw,
      status: r.status,
      setCookie,
    };
  }
  const as = (cookie: string, csrf?: string): Record<string, string> => ({
    cookie,
    ...(csrf ? { 'x-csrf-token': csrf } : {}),
  });

  test('sign in sets an HttpOnly SameSite=Strict cookie; the session acts as its admin key', async () => {
    const s = await signIn(t.root);
    assert.equal(s.status, 200, s.raw);
    assert.match(
      s.setCookie,
      /^kw_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=7200$/,
    );
    assert.ok(!s.raw.includes(t.root), 'the admin key is not echoed');
    const list = await call(t, 'GET', '/v1/keys', undefined, null, as(s.cookie));
    assert.equal(list.status, 200);
    const me = await call(t, 'GET', '/console/api/session', undefined, null, as(s.cookie));
    assert.deepEqual((me.body.adminKey as { permissions: string[] }).permissions, ['*']);
    assert.equal(me.headers['x-content-type-options'], 'nosniff');
    assert.match(String(me.headers['content-security-policy']), /frame-ancestors 'none'/);
    assert.equal(me.headers['referrer-policy'], 'no-referrer');
  });

  test('state-changing requests need the CSRF token', async () => {
    const s = await signIn(t.root);
    const no = await call(t, 'POST', '/v1/keys', aKey({ name: 'crm-prod-console' }), null, as(s.cookie));
    assert.equal(no.status, 403);
    assert.match(String(no.body.detail), /X-CSRF-Token/);
    const wrong = await call(
      t,
      'POST',
      '/v1/keys',
      aKey({ name: 'crm-prod-console' }),
      null,
      as(s.cookie, 'nope'),
    );
    assert.equal(wrong.status, 403);
    const ok = await call(
      t,
      'POST',
      '/v1/keys',
      aKey({ name: 'crm-prod-console' }),
      null,
      as(s.cookie, s.csrf),
    );
    assert.equal(ok.status, 201, ok.raw);
    // A reloaded page asks for the token again: the same one, and another session's is refused.
    const me = await call(t, 'GET', '/console/api/session', undefined, null, as(s.cookie));
    assert.equal(me.body.csrfToken, s.csrf);
    const other = await signIn(t.root);
    assert.notEqual(other.csrf, s.csrf);
    const crossed = await call(
      t,
      'POST',
      '/v1/keys',
      aKey({ name: 'crm-prod-console-two' }),
      null,
      as(s.cookie, other.csrf),
    );
    assert.equal(crossed.status, 403);
  });

  test('a wrong admin key is refused with a message; a team-scoped session sees only its team', async () => {
    const bad = await signIn('kw_adm_wrong');
    assert.equal(bad.status, 401);
    assert.match(bad.raw, /not a Keywarden admin key/);
    await createKey(t, { name: 'crm-prod-hidden' });
    const ops = await call(t, 'POST', '/v1/admin-keys', {
      name: 'ops-console',
      permissions: ['keys:read'],
      team: 'ops',
    });
    const s = await signIn(ops.body.key as string);
    const list = await call(t, 'GET', '/v1/keys?limit=500', undefined, null, as(s.cookie));
    assert.equal(list.status, 200);
    assert.ok((list.body.items as { owner: { team: string } }[]).every((k) => k.owner.team === 'ops'));
    assert.equal(
      (await call(t, 'GET', '/v1/admin-keys', undefined, null, as(s.cookie))).status,
      403,
      'no more than its admin key may',
    );
  });

  test('sign-out ends the session on the server: the old cookie is refused', async () => {
    const s = await signIn(t.root);
    assert.equal(
      (await call(t, 'DELETE', '/console/api/session', undefined, null, as(s.cookie))).status,
      403,
      'sign-out needs CSRF too',
    );
    const out = await call(t, 'DELETE', '/console/api/session', undefined, null, as(s.cookie, s.csrf));
    assert.equal(out.status, 204);
    assert.match(String(out.headers['set-cookie']), /Max-Age=0/);
    const after = await call(t, 'GET', '/v1/keys', undefined, null, as(s.cookie));
    assert.equal(after.status, 401);
    assert.match(String(after.body.detail), /session has ended/);
  });

  test('idle and absolute timeouts; a disabled admin key ends its sessions', async () => {
    const s = await signIn(t.root);
    clock.advance(29 * 60);
    assert.equal((await call(t, 'GET', '/v1/keys', undefined, null, as(s.cookie))).status, 200);
    clock.advance(31 * 60);
    const idle = await call(t, 'GET', '/v1/keys', undefined, null, as(s.cookie));
    assert.equal(idle.status, 401);
    assert.match(String(idle.body.detail), /idle/);

    const long = await signIn(t.root);
    for (let i = 0; i < 5; i++) {
      clock.advance(25 * 60);
      await call(t, 'GET', '/v1/keys', undefined, null, as(long.cookie));
    }
    const aged = await call(t, 'GET', '/v1/keys', undefined, null, as(long.cookie));
    assert.equal(aged.status, 401);
    assert.match(String(aged.body.detail), /maximum age/);

    const a = await call(t, 'POST', '/v1/admin-keys', { name: 'temp-admin', permissions: ['keys:read'] });
    const s2 = await signIn(a.body.key as string);
    assert.equal((await call(t, 'GET', '/v1/keys', undefined, null, as(s2.cookie))).status, 200);
    await call(t, 'POST', `/v1/admin-keys/${(a.body.record as { id: string }).id}/disable`);
    assert.equal((await call(t, 'GET', '/v1/keys', undefined, null, as(s2.cookie))).status, 401);
  });
  return {
    clock,
    env: { KEYWARDEN_SESSION_IDLE_MINUTES: '30', KEYWARDEN_SESSION_MAX_HOURS: '2' },
  };
});
