import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../config.js';
import { DIALECTS, ManualClock, aKey, call, startServer, type TestServer } from '../../testing/harness.js';
import { HttpBrowser } from '../../testing/oidc-driver.js';
import { freePort, startProvider, type TestAccount, type TestProvider } from '../../testing/oidc.js';

const CALLBACK = '/console/api/oidc/callback';

const accounts: TestAccount[] = [
  { sub: 'alice', email: 'Alice@Example.com', emailVerified: true, name: 'Alice Liddell' },
  { sub: 'bob', email: 'bob@example.com', emailVerified: true },
  { sub: 'eve', email: 'eve@example.com', emailVerified: false },
  { sub: 'nobody', email: 'nobody@example.com', emailVerified: true },
  {
    sub: 'grace',
    email: 'grace@example.com',
    emailVerified: true,
    name: 'Grace',
    groups: ['kw-owners', 'staff'],
  },
  { sub: 'carl', email: 'carl@example.com', emailVerified: true, groups: ['crm-admins'] },
];

for (const dialect of DIALECTS) {
  describe(`console single sign-on with a real OpenID Provider (${dialect.name})`, () => {
    let t: TestServer;
    let provider: TestProvider;
    let base: string;
    const clock = new ManualClock(Date.now());

    before(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      provider = await startProvider({ redirectUri: `${base}${CALLBACK}`, accounts });
      t = await startServer(dialect, {
        clock,
        env: {
          KEYWARDEN_OIDC_ISSUER: provider.issuer,
          KEYWARDEN_OIDC_CLIENT_ID: provider.clientId,
          KEYWARDEN_OIDC_CLIENT_SECRET: provider.clientSecret,
          KEYWARDEN_PUBLIC_URL: base,
          KEYWARDEN_OIDC_ROLE_MAP: 'kw-owners=owner,crm-admins=admin@crm',
        },
      });
      await t.kw.app.listen({ port, host: '127.0.0.1' });
      for (const [email, role] of [
        ['alice@example.com', 'operator'],
        ['bob@example.com', 'auditor'],
        ['eve@example.com', 'operator'],
      ] as const) {
        assert.equal((await call(t, 'POST', '/v1/members', { email, role })).status, 201);
      }
    });
    after(async () => {
      await t.close();
      await provider.close();
    });

    /** Starts a login in a fresh "browser" and signs in at the provider: the callback URL it is sent back to. */
    async function toCallback(sub: string, b = new HttpBrowser()): Promise<{ b: HttpBrowser; cb: string }> {
      const start = await b.request(`${base}/console/api/oidc/login`);
      assert.equal(start.status, 302, await start.text());
      const to = start.headers.get('location') ?? '';
      assert.ok(to.startsWith(`${provider.issuer}/`), to);
      const q = new URL(to).searchParams;
      assert.equal(q.get('code_challenge_method'), 'S256');
      assert.ok((q.get('state') ?? '').length >= 32 && (q.get('nonce') ?? '').length >= 32);
      assert.equal(q.get('redirect_uri'), `${base}${CALLBACK}`);
      return { b, cb: await b.signInAtProvider(to, sub, `${base}${CALLBACK}`) };
    }
    async function page(res: Response): Promise<{ status: number; reason: string; text: string }> {
      const text = await res.text();
      assert.match(String(res.headers.get('content-type')), /^text\/html/);
      return { status: res.status, reason: /data-reason="(\w+)"/.exec(text)?.[1] ?? '', text };
    }
    const session = (b: HttpBrowser): Record<string, string> => ({
      cookie: `kw_session=${b.cookie(new URL(base).host, 'kw_session') ?? ''}`,
    });

    test('a member with a verified email signs in; the same response cannot be used twice', async () => {
      const options = await call(t, 'GET', '/console/api/sign-in-options', undefined, null);
      assert.deepEqual(options.body, { sso: true, adminKey: true });
      const { b, cb } = await toCallback('alice');
      const res = await b.request(cb);
      assert.equal(res.status, 303, await res.text());
      assert.equal(res.headers.get('location'), '/');
      const set = res.headers.getSetCookie().find((c) => c.startsWith('kw_session='));
      assert.match(
        String(set),
        /^kw_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
      );
      const me = await call(t, 'GET', '/console/api/session', undefined, null, session(b));
      assert.equal(me.status, 200, me.raw);
      assert.equal((me.body.member as { email: string }).email, 'alice@example.com');
      assert.equal((me.body.adminKey as { name: string }).name, 'alice@example.com');
      const k = await call(t, 'POST', '/v1/keys', aKey(), null, {
        ...session(b),
        'x-csrf-token': String(me.body.csrfToken),
      });
      assert.equal(k.status, 201, k.raw);
      const audit = await call(t, 'GET', `/v1/audit?target=${(k.body.record as { id: string }).id}`);
      assert.equal(
        (audit.body.items as { actorInfo: { email: string } }[])[0]?.actorInfo.email,
        'alice@example.com',
      );
      const member = await call(t, 'GET', `/v1/members/${(me.body.member as { id: string }).id}`);
      assert.notEqual(member.body.lastSignInAt, null);
      // The same callback (state and code) again: refused, whoever sends it.
      const replay = await page(await b.request(cb));
      assert.equal(replay.status, 400);
      assert.equal(replay.reason, 'replayed_state');
      assert.match(replay.text, /already used/);
      // The code again, with a fresh state of another browser: the provider refuses the used code.
      const other = new HttpBrowser();
      const start = await other.request(`${base}/console/api/oidc/login`);
      const state = new URL(start.headers.get('location') ?? '').searchParams.get('state') ?? '';
      const stolen = new URL(cb);
      stolen.searchParams.set('state', state);
      const reused = await page(await other.request(stolen.href));
      assert.deepEqual([reused.status, reused.reason], [502, 'provider_error']);
      assert.match(reused.text, /invalid_grant/);
      assert.equal(other.cookie(new URL(base).host, 'kw_session'), undefined);
    });

    test('a wrong state, or a callback in another browser, is refused with a page that says so', async () => {
      const { b, cb } = await toCallback('alice');
      const wrong = new URL(cb);
      wrong.searchParams.set('state', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
      const bad = await page(await b.request(wrong.href));
      assert.equal(bad.status, 400);
      assert.equal(bad.reason, 'bad_state');
      assert.match(bad.text, /does not belong to a sign-in started here/);
      const none = await page(await b.request(`${base}${CALLBACK}?code=x`));
      assert.equal(none.reason, 'bad_state');
      const elsewhere = await page(await new HttpBrowser().request(cb));
      assert.equal(elsewhere.status, 400);
      assert.match(elsewhere.text, /started in another browser/);
      assert.equal(b.cookie(new URL(base).host, 'kw_session'), undefined);
    });

    test('an unverified email and a person who is not a member are refused, each with its reason', async () => {
      const eve = await toCallback('eve');
      const unverified = await page(await eve.b.request(eve.cb));
      assert.deepEqual([unverified.status, unverified.reason], [403, 'unverified_email']);
      assert.match(unverified.text, /eve@example.com/);
      assert.equal(eve.b.cookie(new URL(base).host, 'kw_session'), undefined);
      const nobody = await toCallback('nobody');
      const stranger = await page(await nobody.b.request(nobody.cb));
      assert.deepEqual([stranger.status, stranger.reason], [403, 'not_member']);
      assert.match(stranger.text, /nobody@example.com is not a member/);
    });

    test('the provider refusing the sign-in is shown as its error', async () => {
      const b = new HttpBrowser();
      const start = await b.request(`${base}/console/api/oidc/login`);
      const state = new URL(start.headers.get('location') ?? '').searchParams.get('state') ?? '';
      const res = await page(
        await b.request(
          `${base}${CALLBACK}?error=access_denied&error_description=user+cancelled&state=${state}`,
        ),
      );
      assert.deepEqual([res.status, res.reason], [502, 'provider_error']);
      assert.match(res.text, /access_denied.*user cancelled/);
    });

    test('a member removed mid-session is signed out at once; a demoted one narrowed', async () => {
      const { b, cb } = await toCallback('bob');
      assert.equal((await b.request(cb)).status, 303);
      const me = await call(t, 'GET', '/console/api/session', undefined, null, session(b));
      const id = (me.body.member as { id: string }).id;
      assert.equal((await call(t, 'GET', '/v1/audit', undefined, null, session(b))).status, 200);
      assert.equal((await call(t, 'PATCH', `/v1/members/${id}`, { role: 'operator' })).status, 200);
      assert.equal((await call(t, 'GET', '/v1/audit', undefined, null, session(b))).status, 403);
      assert.equal((await call(t, 'GET', '/v1/keys', undefined, null, session(b))).status, 200);
      assert.equal((await call(t, 'DELETE', `/v1/members/${id}`)).status, 200);
      const after = await call(t, 'GET', '/v1/keys', undefined, null, session(b));
      assert.equal(after.status, 401, after.raw);
    });

    test('group mapping creates and updates members just in time, audited', async () => {
      const account = accounts.find((a) => a.sub === 'carl');
      assert.ok(account !== undefined);
      account.groups = ['crm-admins'];
      const grace = await toCallback('grace');
      assert.equal((await grace.b.request(grace.cb)).status, 303);
      const carl = await toCallback('carl');
      assert.equal((await carl.b.request(carl.cb)).status, 303);
      const list = (await call(t, 'GET', '/v1/members?limit=500')).body.items as {
        id: string;
        email: string;
        role: string;
        team: string | null;
        source: string;
        name: string | null;
      }[];
      const g = list.find((m) => m.email === 'grace@example.com');
      const c = list.find((m) => m.email === 'carl@example.com');
      assert.deepEqual([g?.role, g?.team, g?.source, g?.name], ['owner', null, 'sso', 'Grace']);
      assert.deepEqual([c?.role, c?.team, c?.source], ['admin', 'crm', 'sso']);
      // carl's session is the crm admin's: it sees crm's members only.
      const seen = (await call(t, 'GET', '/v1/members', undefined, null, session(carl.b))).body.items as {
        team: string;
      }[];
      assert.ok(seen.every((m) => m.team === 'crm'));
      // The provider moves carl to the owners: the next sign-in follows.
      account.groups = ['kw-owners'];
      const again = await toCallback('carl');
      assert.equal((await again.b.request(again.cb)).status, 303);
      const moved = await call(t, 'GET', `/v1/members/${String(c?.id)}`);
      assert.deepEqual([moved.body.role, moved.body.team], ['owner', null]);
      const audit = (await call(t, 'GET', `/v1/audit?target=${String(c?.id)}`)).body.items as {
        action: string;
        actor: string | null;
      }[];
      assert.deepEqual(
        audit.map((e) => [e.action, e.actor]),
        [
          ['member.sso_update', null],
          ['member.sso_create', null],
        ],
      );
      // No mapped group any more: no sign-in (the member made by the mapping is not used by hand).
      account.groups = ['staff'];
      const none = await toCallback('carl');
      const res = await page(await none.b.request(none.cb));
      assert.deepEqual([res.status, res.reason], [403, 'not_member']);
      assert.match(res.text, /none of your groups maps/);
    });

    test('a sign-in finished more than ten minutes after it started has expired', async () => {
      const { b, cb } = await toCallback('alice');
      clock.advance(11 * 60);
      const res = await page(await b.request(cb));
      assert.deepEqual([res.status, res.reason], [400, 'expired_state']);
      assert.match(res.text, /expired/);
    });
  });
}

describe('single sign-on when the provider is down, and its settings', () => {
  let hang: Server;
  let hangPort: number;
  const held: import('node:net').Socket[] = [];
  before(async () => {
    // Accepts connections and never answers: the provider that hangs.
    hang = createServer((s) => held.push(s));
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    hangPort = (hang.address() as { port: number }).port;
  });
  after(async () => {
    for (const s of held) s.destroy();
    await new Promise<void>((resolve) =>
      hang.close(() => {
        resolve();
      }),
    );
  });

  async function serverFor(issuer: string, extra: Record<string, string> = {}): Promise<TestServer> {
    return startServer(DIALECTS[0] ?? { name: 'sqlite' }, {
      env: {
        KEYWARDEN_OIDC_ISSUER: issuer,
        KEYWARDEN_OIDC_CLIENT_ID: 'kw',
        KEYWARDEN_OIDC_CLIENT_SECRET: 'secret',
        KEYWARDEN_PUBLIC_URL: 'http://127.0.0.1:1',
        ...extra,
      },
    });
  }

  test('an unreachable provider gives a clear page at once; a silent one within seconds', async () => {
    const closed = await freePort();
    const t = await serverFor(`http://127.0.0.1:${closed}`);
    try {
      let at = Date.now();
      const res = await t.kw.app.inject({ method: 'GET', url: '/console/api/oidc/login' });
      assert.ok(Date.now() - at < 3000);
      assert.equal(res.statusCode, 503, res.body);
      assert.match(
        res.body,
        /could not reach the identity provider at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
      );
      const silent = await serverFor(`http://127.0.0.1:${hangPort}`);
      try {
        at = Date.now();
        const r2 = await silent.kw.app.inject({ method: 'GET', url: '/console/api/oidc/login' });
        const took = Date.now() - at;
        assert.ok(took >= 4000 && took < 8000, `took ${took} ms`);
        assert.equal(r2.statusCode, 503, r2.body);
        assert.match(r2.body, /did not answer within 5 s/);
      } finally {
        await silent.close();
      }
    } finally {
      await t.close();
    }
  });

  test('KEYWARDEN_CONSOLE_KEY_SIGNIN=false turns admin-key sign-in off; settings are checked together', async () => {
    const t = await serverFor('http://127.0.0.1:1', { KEYWARDEN_CONSOLE_KEY_SIGNIN: 'false' });
    try {
      const opts = await call(t, 'GET', '/console/api/sign-in-options', undefined, null);
      assert.deepEqual(opts.body, { sso: true, adminKey: false });
      const r = await call(t, 'POST', '/console/api/session', { adminKey: t.root }, null);
      assert.equal(r.status, 403, r.raw);
      assert.match(String(r.body.detail), /KEYWARDEN_CONSOLE_KEY_SIGNIN=false/);
      // The API itself still takes admin keys.
      assert.equal((await call(t, 'GET', '/v1/keys')).status, 200);
    } finally {
      await t.close();
    }
    assert.throws(
      () => loadConfig({ KEYWARDEN_OIDC_ISSUER: 'https://idp.example.com' }),
      /also needs KEYWARDEN_OIDC_CLIENT_ID, KEYWARDEN_OIDC_CLIENT_SECRET, KEYWARDEN_PUBLIC_URL/,
    );
    assert.throws(() => loadConfig({ KEYWARDEN_CONSOLE_KEY_SIGNIN: 'false' }), /nobody could sign in/);
    assert.throws(
      () => loadConfig({ KEYWARDEN_OIDC_ISSUER: 'http://idp.example.com' }),
      /must be an https:\/\/ URL/,
    );
    assert.throws(() => loadConfig({ KEYWARDEN_OIDC_ROLE_MAP: 'admins=boss' }), /"boss" in "admins=boss"/);
    assert.throws(() => loadConfig({ KEYWARDEN_OIDC_ROLE_MAP: 'o=owner@crm' }), /owner role is global/);
    const ok = loadConfig({ KEYWARDEN_OIDC_ROLE_MAP: 'kw-owners=owner, crm-admins=admin@crm' });
    assert.deepEqual(ok.oidcRoleMap, [
      { group: 'kw-owners', role: 'owner', team: null },
      { group: 'crm-admins', role: 'admin', team: 'crm' },
    ]);
  });
});
