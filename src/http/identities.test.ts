import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  aKey,
  call,
  createKey,
  describeEachDialect,
  ManualClock,
  verify,
  type TestServer,
} from '../testing/harness.js';

/** Identities over HTTP on both databases: records, links, shared limits, usage, scope (issue 22). */

let seq = 0;
const ext = (): string => `cus_${Date.now().toString(36)}_${++seq}`;

async function identity(
  t: TestServer,
  body: Record<string, unknown> = {},
  by = t.root,
): Promise<Record<string, unknown>> {
  const r = await call(
    t,
    'POST',
    '/v1/identities',
    { externalId: ext(), owner: { team: 'crm' }, ...body },
    by,
  );
  assert.equal(r.status, 201, r.raw);
  return r.body;
}

describeEachDialect('identities over HTTP', (t) => {
  test('create, read, list with filters and cursor pages, patch, delete; externalId is unique', async () => {
    const externalId = ext();
    const created = await call(t, 'POST', '/v1/identities', {
      externalId,
      name: 'Acme Corp',
      owner: { team: 'crm', contact: 'billing@acme.example' },
      ratelimits: [{ name: 'per-minute', limit: 100, windowSeconds: 60 }],
      credits: { remaining: 1000, refill: { amount: 1000, interval: 'monthly' } },
      metadata: { plan: 'gold' },
    });
    assert.equal(created.status, 201, created.raw);
    const id = created.body.id as string;
    assert.match(id, /^idn_[0-9A-Za-z]{19}$/);
    assert.equal(created.body.externalId, externalId);
    assert.deepEqual(created.body.credits, {
      remaining: 1000,
      refill: { amount: 1000, interval: 'monthly' },
    });
    assert.deepEqual(created.body.owner, { team: 'crm', contact: 'billing@acme.example' });

    const dup = await call(t, 'POST', '/v1/identities', { externalId });
    assert.equal(dup.status, 409, dup.raw);
    assert.match(String(dup.body.detail), new RegExp(`externalId "${externalId}" already exists`));

    const got = await call(t, 'GET', `/v1/identities/${id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, created.body);
    assert.equal((await call(t, 'GET', '/v1/identities/idn_missing')).status, 404);

    // Five more, then pages of two, newest first, without gaps or repeats.
    const tag = `page${Date.now().toString(36)}`;
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await identity(t, { name: `${tag}-${i}` })).id as string);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/v1/identities?q=${tag}&limit=2${cursor === null ? '' : `&cursor=${cursor}`}`;
      const page = await call(t, 'GET', q);
      assert.equal(page.status, 200, page.raw);
      const items = page.body.items as { id: string }[];
      assert.ok(items.length <= 2);
      seen.push(...items.map((x) => x.id));
      cursor = page.body.nextCursor as string | null;
    } while (cursor !== null);
    assert.deepEqual(seen, [...made].reverse());
    const byExt = await call(t, 'GET', `/v1/identities?externalId=${externalId}`);
    assert.deepEqual(
      (byExt.body.items as { id: string }[]).map((x) => x.id),
      [id],
    );

    const patched = await call(t, 'PATCH', `/v1/identities/${id}`, {
      name: 'Acme',
      credits: { remaining: 5 },
    });
    assert.equal(patched.status, 200, patched.raw);
    assert.equal(patched.body.name, 'Acme');
    assert.deepEqual(patched.body.credits, { remaining: 5, refill: null });
    assert.equal(patched.body.version, 2);
    const taken = await call(t, 'PATCH', `/v1/identities/${made[0] ?? ''}`, { externalId });
    assert.equal(taken.status, 409, taken.raw);
    assert.equal((await call(t, 'PATCH', `/v1/identities/${id}`, {})).status, 400);

    const k = await createKey(t, { identityId: id });
    assert.equal(k.record.identityId, id);
    const del = await call(t, 'DELETE', `/v1/identities/${id}`);
    assert.equal(del.status, 200, del.raw);
    assert.equal(del.body.unlinkedKeys, 1);
    assert.equal((await call(t, 'GET', `/v1/identities/${id}`)).status, 404);
    assert.equal((await call(t, 'GET', `/v1/keys/${k.id}`)).body.identityId, null);
    const v = await verify(t, { key: k.key, permission: 'agents:invoke', resource: 'agt_42' });
    assert.equal(v.code, 'VALID');
    assert.equal(v.identity, undefined, 'the unlinked key answers without an identity at once');

    // Every change is audited.
    const audit = await call(t, 'GET', `/v1/audit?target=${id}`);
    assert.deepEqual((audit.body.items as { action: string }[]).map((e) => e.action).sort(), [
      'identity.create',
      'identity.delete',
      'identity.update',
    ]);
  });

  test('the OpenAPI document names the identity operations and schemas', async () => {
    const doc = (await call(t, 'GET', '/openapi.json', undefined, null)).body as {
      paths: Record<
        string,
        Record<string, { operationId?: string; requestBody?: unknown; responses?: unknown }>
      >;
      components: { schemas: Record<string, unknown> };
    };
    const op = (path: string, method: string): string | undefined => doc.paths[path]?.[method]?.operationId;
    assert.deepEqual(
      [
        op('/v1/identities', 'post'),
        op('/v1/identities', 'get'),
        op('/v1/identities/{id}', 'get'),
        op('/v1/identities/{id}', 'patch'),
        op('/v1/identities/{id}', 'delete'),
        op('/v1/identities/{id}/usage', 'get'),
      ],
      [
        'createIdentity',
        'listIdentities',
        'getIdentity',
        'updateIdentity',
        'deleteIdentity',
        'getIdentityUsage',
      ],
    );
    for (const name of ['Identity', 'IdentityCreate', 'IdentityPatch', 'IdentityPage', 'IdentityUsage'])
      assert.ok(name in doc.components.schemas, name);
    const text = JSON.stringify(doc.paths['/v1/identities']?.post);
    assert.match(text, /#\/components\/schemas\/IdentityCreate/);
    assert.match(text, /#\/components\/schemas\/Identity"/);
    assert.match(JSON.stringify(doc.paths['/v1/identities/{id}']?.patch), /IdentityPatch/);
    assert.match(JSON.stringify(doc.components.schemas.VerifyResult), /externalId/);
  });

  test('a key links to an identity of its own team only (422 otherwise); the key list filters by it', async () => {
    const mine = await identity(t);
    const other = await identity(t, { owner: { team: 'billing' } });
    const unknown = await call(t, 'POST', '/v1/keys', aKey({ identityId: 'idn_nope' }));
    assert.equal(unknown.status, 422, unknown.raw);
    assert.match(String(unknown.body.detail), /identityId idn_nope names no identity of team "crm"/);
    const k = await createKey(t, { identityId: mine.id });
    const cross = await call(t, 'PATCH', `/v1/keys/${k.id}`, { identityId: other.id });
    assert.equal(cross.status, 422, cross.raw);
    // Moving the key to another team while it links to this team's identity is refused too.
    const move = await call(t, 'PATCH', `/v1/keys/${k.id}`, { owner: { team: 'billing' } });
    assert.equal(move.status, 422, move.raw);
    const k2 = await createKey(t);
    assert.equal((await call(t, 'PATCH', `/v1/keys/${k2.id}`, { identityId: mine.id })).status, 200);
    const list = await call(t, 'GET', `/v1/keys?identityId=${String(mine.id)}`);
    assert.deepEqual(
      (list.body.items as { id: string }[]).map((x) => x.id),
      [k2.id, k.id],
    );
    // An identity with keys keeps its team.
    const reteam = await call(t, 'PATCH', `/v1/identities/${String(mine.id)}`, {
      owner: { team: 'billing' },
    });
    assert.equal(reteam.status, 409, reteam.raw);
    assert.equal((await call(t, 'PATCH', `/v1/keys/${k2.id}`, { identityId: null })).body.identityId, null);
  });

  test("verification applies the key's and the identity's limits together; a refusal consumes nothing", async () => {
    const idn = await identity(t, {
      ratelimits: [{ name: 'customer', limit: 3, windowSeconds: 3600 }],
      credits: { remaining: 100 },
    });
    const a = await createKey(t, {
      identityId: idn.id,
      ratelimits: [{ name: 'key', limit: 10, windowSeconds: 3600 }],
    });
    const b = await createKey(t, { identityId: idn.id, credits: { remaining: 50 } });
    const go = (key: string) => verify(t, { key, permission: 'agents:invoke', resource: 'agt_42' });
    const r1 = await go(a.key);
    assert.equal(r1.code, 'VALID');
    assert.deepEqual(r1.identity, {
      id: idn.id,
      externalId: idn.externalId,
      ratelimit: (r1.identity as { ratelimit: { resetAt: string } }).ratelimit && {
        name: 'customer',
        limit: 3,
        remaining: 2,
        resetAt: (r1.identity as { ratelimit: { resetAt: string } }).ratelimit.resetAt,
      },
      credits: { remaining: 99 },
    });
    // The tightest limit overall is the identity's (2 left) rather than the key's (9 left).
    assert.equal((r1.ratelimit as { name: string }).name, 'customer');
    assert.equal((await go(b.key)).code, 'VALID');
    const r3 = await go(a.key);
    assert.equal(r3.code, 'VALID');
    assert.equal((r3.identity as { credits: { remaining: number } }).credits.remaining, 97);
    // The identity's limit is shared: the fourth call, by either key, is refused.
    const r4 = await go(b.key);
    assert.equal(r4.code, 'RATE_LIMITED');
    assert.match(String(r4.detail), new RegExp(`identity ${String(idn.externalId)}'s rate limit "customer"`));
    assert.deepEqual(r4.credits, { remaining: 49 }, "the refused call took nothing of the key's balance");
    assert.equal((r4.identity as { credits: { remaining: number } }).credits.remaining, 97);

    // Credits: the key's balance refuses first; the identity's is untouched by the refusal.
    const idn2 = await identity(t, { credits: { remaining: 5 } });
    const c = await createKey(t, { identityId: idn2.id, credits: { remaining: 1 } });
    const d = await createKey(t, { identityId: idn2.id });
    assert.equal((await go(c.key)).code, 'VALID');
    const refused = await go(c.key);
    assert.equal(refused.code, 'USAGE_EXCEEDED');
    assert.deepEqual((refused.identity as { credits: unknown }).credits, { remaining: 4 });
    for (let i = 3; i >= 0; i--) {
      const ok = await go(d.key);
      assert.equal(ok.code, 'VALID');
      assert.deepEqual((ok.identity as { credits: unknown }).credits, { remaining: i });
    }
    const empty = await go(d.key);
    assert.equal(empty.code, 'USAGE_EXCEEDED');
    assert.match(String(empty.detail), /identity .*'s credits exhausted \(0 left/);

    // The uses are written back to the identity's stored balance.
    await t.kw.services.ctx.usage.flush();
    assert.deepEqual((await call(t, 'GET', `/v1/identities/${String(idn2.id)}`)).body.credits, {
      remaining: 0,
      refill: null,
    });
    // A new balance (and a limit) applies at once on the next call: the cached entry was dropped.
    assert.equal(
      (await call(t, 'PATCH', `/v1/identities/${String(idn2.id)}`, { credits: { remaining: 2 } })).status,
      200,
    );
    const again = await go(d.key);
    assert.equal(again.code, 'VALID');
    assert.deepEqual((again.identity as { credits: unknown }).credits, { remaining: 1 });
    await call(t, 'PATCH', `/v1/identities/${String(idn2.id)}`, {
      ratelimits: [{ name: 'tight', limit: 1, windowSeconds: 3600 }],
    });
    assert.equal((await go(d.key)).code, 'VALID');
    assert.equal((await go(d.key)).code, 'RATE_LIMITED');
  });

  test('a cached key with an identity is answered without storage: synchronously, from the cache', async () => {
    const idn = await identity(t, {
      ratelimits: [{ name: 'customer', limit: 1000, windowSeconds: 60 }],
      credits: { remaining: 1000 },
    });
    const k = await createKey(t, { identityId: idn.id });
    const input = { key: k.key, environment: 'production' as const, permissions: [], cost: 1 };
    const scope = { team: null };
    const first = await t.kw.services.verifier.verify(input, scope);
    assert.equal(first.code, 'VALID');
    const hits = t.kw.services.ctx.metrics.cache.hit.n;
    const again = t.kw.services.verifier.verify(input, scope);
    assert.ok(!(again instanceof Promise), 'no promise: neither storage nor Redis was asked');
    assert.deepEqual(again.identity?.credits, { remaining: 998 });
    assert.equal(t.kw.services.ctx.metrics.cache.hit.n, hits + 1);
  });

  test('usage per day and outcome summed over the identity’s keys; logs filter by identity', async () => {
    const idn = await identity(t, { credits: { remaining: 2 } });
    const a = await createKey(t, { identityId: idn.id });
    const b = await createKey(t, { identityId: idn.id });
    const outsider = await createKey(t);
    const go = (key: string) => verify(t, { key, permission: 'agents:invoke', resource: 'agt_42' });
    await go(a.key);
    await go(b.key);
    await go(b.key);
    await go(outsider.key);
    await t.kw.services.ctx.usage.flush();
    const u = await call(t, 'GET', `/v1/identities/${String(idn.id)}/usage`);
    assert.equal(u.status, 200, u.raw);
    assert.equal(u.body.keys, 2);
    assert.deepEqual(u.body.totals, { VALID: 2, USAGE_EXCEEDED: 1 });
    const days = u.body.days as { day: string; counts: Record<string, number> }[];
    assert.equal(days.length, 1);
    assert.equal(days[0]?.day, new Date().toISOString().slice(0, 10));
    const logs = await call(t, 'GET', `/v1/logs?identityId=${String(idn.id)}`);
    assert.equal(logs.status, 200, logs.raw);
    const rows = logs.body.items as { keyId: string; count: number }[];
    assert.deepEqual(new Set(rows.map((r) => r.keyId)), new Set([a.id, b.id]));
    assert.equal(
      rows.reduce((n, r) => n + r.count, 0),
      3,
    );
  });

  test('team-scoped admin keys see and change only their team’s identities', async () => {
    const adm = await call(t, 'POST', '/v1/admin-keys', {
      name: 'crm-identities',
      permissions: ['keys:read', 'keys:write'],
      team: 'crm',
    });
    assert.equal(adm.status, 201, adm.raw);
    const scoped = adm.body.key as string;
    const theirs = await identity(t, { owner: { team: 'billing' }, name: 'billing-customer' });
    const made = await call(t, 'POST', '/v1/identities', { externalId: ext() }, scoped);
    assert.equal(made.status, 201, made.raw);
    assert.equal((made.body.owner as { team: string }).team, 'crm', 'the team defaults to the admin key’s');
    const forbidden = await call(
      t,
      'POST',
      '/v1/identities',
      { externalId: ext(), owner: { team: 'billing' } },
      scoped,
    );
    assert.equal(forbidden.status, 403, forbidden.raw);
    for (const [m, body] of [
      ['GET', undefined],
      ['PATCH', { name: 'x' }],
      ['DELETE', undefined],
    ] as const) {
      const r = await call(t, m, `/v1/identities/${String(theirs.id)}`, body, scoped);
      assert.equal(r.status, 404, `${m}: ${r.raw}`);
      assert.ok(!r.raw.includes('billing-customer'));
    }
    const list = await call(t, 'GET', '/v1/identities?limit=500', undefined, scoped);
    const teams = new Set((list.body.items as { owner: { team: string } }[]).map((x) => x.owner.team));
    assert.deepEqual(teams, new Set(['crm']));
    // A key of this team cannot link to the other team's identity: the same words as an unknown id.
    const k = await createKey(t);
    const link = await call(t, 'PATCH', `/v1/keys/${k.id}`, { identityId: theirs.id }, scoped);
    assert.equal(link.status, 422, link.raw);
    assert.match(String(link.body.detail), /names no identity of team "crm"/);
  });
});

describeEachDialect('identity credits refill on schedule', (t) => {
  const clock = new ManualClock(Date.parse('2026-06-01T10:00:00.000Z'));
  test("an identity's shared balance refills like a key's, and its keys answer with it at once", async () => {
    const idn = await identity(t, { credits: { remaining: 1, refill: { amount: 3, interval: 'daily' } } });
    const k = await createKey(t, { identityId: idn.id });
    const go = async (): Promise<Record<string, unknown>> => verify(t, { key: k.key });
    assert.equal((await go()).code, 'VALID');
    assert.equal((await go()).code, 'USAGE_EXCEEDED');
    assert.equal(await t.kw.jobs.refillCredits(), 0, 'nothing is due the same day');
    clock.ms = Date.parse('2026-06-02T00:00:01.000Z');
    assert.equal(await t.kw.jobs.refillCredits(), 1, 'the identity refills at midnight UTC');
    assert.equal(await t.kw.jobs.refillCredits(), 0, 'and only once');
    const after = await go();
    assert.equal(after.code, 'VALID');
    assert.deepEqual((after.identity as { credits: unknown }).credits, { remaining: 2 });
    await t.kw.services.ctx.usage.flush();
    const rec = await call(t, 'GET', `/v1/identities/${String(idn.id)}`);
    assert.deepEqual(rec.body.credits, { remaining: 2, refill: { amount: 3, interval: 'daily' } });
  });
  return { clock };
});
