import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SECTIONS } from '../core/governance.js';
import { allows, compileGrants } from '../core/permissions.js';
import { ManualClock, aKey, call, createKey, verify, describeEachDialect } from '../testing/harness.js';

type Finding = { keyId: string; reason: string; [k: string]: unknown };
const ids = (r: Record<string, unknown>, section: string): string[] =>
  (r[section] as Finding[]).map((f) => f.keyId);
const find = (r: Record<string, unknown>, section: string, id: string): Finding | undefined =>
  (r[section] as Finding[]).find((f) => f.keyId === id);

describeEachDialect('governance report and leak response', (t) => {
  const clock = new ManualClock(Date.parse('2026-06-01T09:00:00.000Z'));
  const report = async (): Promise<Record<string, unknown>> => {
    await t.kw.services.ctx.usage.flush();
    const r = await call(t, 'GET', '/v1/reports/governance');
    assert.equal(r.status, 200, r.raw);
    return r.body;
  };

  test('each section finds its keys, with the reason', async () => {
    const exp = (days: number): string => new Date(clock.now() + days * 86_400_000).toISOString();
    const owned = await call(t, 'POST', '/v1/admin-keys', {
      name: 'crm-admins',
      permissions: ['keys:read'],
      team: 'crm',
    });
    assert.equal(owned.status, 201);
    const idle = await createKey(t, { name: 'crm-prod-idle', expiresAt: exp(200) });
    const busy = await createKey(t, {
      name: 'crm-prod-busy',
      permissions: ['agents:invoke', 'billing:charge'],
      expiresAt: exp(200),
    });
    const orphan = await createKey(t, {
      name: 'ops-prod-orphan',
      owner: { team: 'ops', contact: 'o@x' },
      expiresAt: exp(200),
    });
    const testKey = await createKey(t, {
      name: 'crm-stg-probe',
      environment: 'staging',
      expiresAt: exp(200),
    });
    const soon = await createKey(t, { name: 'crm-prod-soon', expiresAt: exp(10) });
    const shared = await createKey(t, { name: 'crm-prod-shared', expiresAt: exp(200) });
    for (let i = 0; i < 6; i++) await verify(t, { key: shared.key, ip: `10.0.0.${i}` });
    for (let i = 0; i < 3; i++) await verify(t, { key: testKey.key, environment: 'production' });
    clock.advance(8 * 86_400);
    await verify(t, { key: busy.key, permission: 'agents:invoke', resource: 'agt_1' });
    await verify(t, { key: busy.key, permission: 'agents:invoke', resource: 'agt_2' });

    let r = await report();
    assert.ok(ids(r, 'unowned').includes(orphan.id));
    assert.match(find(r, 'unowned', orphan.id)?.reason ?? '', /team "ops" has no active admin key/);
    assert.ok(!ids(r, 'unowned').includes(idle.id), 'crm has an active admin key');
    assert.deepEqual(ids(r, 'testKeysInProduction'), [testKey.id]);
    assert.equal(find(r, 'testKeysInProduction', testKey.id)?.count, 3);
    assert.ok(ids(r, 'rotationDue').includes(soon.id));
    assert.ok(!ids(r, 'rotationDue').includes(idle.id));
    assert.deepEqual(ids(r, 'sharedKeys'), [shared.id]);
    assert.match(find(r, 'sharedKeys', shared.id)?.reason ?? '', /seen from 6 client IPs/);
    const op = find(r, 'overPrivileged', busy.id);
    assert.deepEqual(op?.unusedPermissions, ['billing:charge']);
    assert.deepEqual(op?.suggestedPermissions, ['agents:invoke:agt_1', 'agents:invoke:agt_2']);
    assert.deepEqual(ids(r, 'stale'), [], 'nothing is 90 days old yet');
    assert.deepEqual(ids(r, 'nonCompliant'), []);

    clock.advance(85 * 86_400);
    r = await report();
    assert.ok(ids(r, 'stale').includes(idle.id));
    assert.match(find(r, 'stale', idle.id)?.reason ?? '', /never used since its creation 93 days ago/);
    assert.ok(!ids(r, 'stale').includes(busy.id), 'used 85 days ago');
    assert.equal((r.summary as Record<string, number>).stale, ids(r, 'stale').length);

    // A stricter policy leaves keys alone and lists them.
    assert.equal((await call(t, 'PUT', '/v1/policy', { naming: { denyList: ['idle'] } })).status, 200);
    r = await report();
    assert.ok(ids(r, 'nonCompliant').includes(idle.id));
    assert.match(find(r, 'nonCompliant', idle.id)?.reason ?? '', /naming\.denyList/);
    assert.equal((await call(t, 'GET', `/v1/keys/${idle.id}`)).body.status, 'active');
    await call(t, 'PUT', '/v1/policy', {});
  });

  test('a team-scoped admin key sees only its team in the report', async () => {
    const a = await call(t, 'POST', '/v1/admin-keys', {
      name: 'ops-reader',
      permissions: ['keys:read'],
      team: 'ops',
    });
    const r = await call(t, 'GET', '/v1/reports/governance', undefined, a.body.key as string);
    assert.equal(r.status, 200);
    const all = SECTIONS.flatMap((s) => (r.body[s] as { name: string }[]).map((f) => f.name));
    assert.ok(all.length > 0 && all.every((n) => n.startsWith('ops-')), all.join(','));
  });

  test('leaks: known keys are taken out of service at once, with masked answers only', async () => {
    const live = await createKey(t, { name: 'crm-prod-leaky' });
    const rotated = await createKey(t, { name: 'crm-prod-rotated' });
    const regen = await call(t, 'POST', `/v1/keys/${rotated.id}/regenerate`, { gracePeriodSeconds: 3600 });
    const adm = await call(t, 'POST', '/v1/admin-keys', {
      name: 'leaky-admin',
      permissions: ['keys:read'],
    });
    const { generateKey } = await import('../core/keys.js');
    const stranger = generateKey('kw', 'prod');
    const text = [
      `deploy log: KEY=${live.key}`,
      `old: ${rotated.key}`,
      `admin ${adm.body.key as string}`,
      `unknown ${stranger} and a look-alike kw_prod_${'Z'.repeat(36)}`,
    ].join('\n');
    const r = await call(t, 'POST', '/v1/leaks', { text });
    assert.equal(r.status, 200, r.raw);
    const found = r.body.found as {
      masked: string;
      keyId: string | null;
      action: string;
      kind: string;
      line: number;
    }[];
    assert.deepEqual(
      found.map((f) => [f.kind, f.action, f.line]),
      [
        ['key', 'disabled', 1],
        ['key', 'grace_ended', 2],
        ['admin_key', 'disabled', 3],
        ['key', 'unknown', 4],
      ],
    );
    for (const k of [live.key, rotated.key, adm.body.key as string])
      assert.ok(!r.raw.includes(k.slice(12, -4)), 'masked only');
    const v = await verify(t, { key: live.key });
    assert.equal(v.code, 'DISABLED');
    assert.equal((await call(t, 'GET', `/v1/keys/${live.id}`)).body.disabledReason, 'leaked');
    assert.equal(
      (await verify(t, { key: rotated.key })).code,
      'EXPIRED',
      'the leaked old secret ended its grace',
    );
    assert.equal((await verify(t, { key: regen.body.key })).code, 'VALID', 'the new secret still works');
    assert.equal((await call(t, 'GET', '/v1/keys', undefined, adm.body.key as string)).status, 401);
    const audit = await call(t, 'GET', '/v1/audit?action=key.leak');
    assert.equal((audit.body.items as unknown[]).length, 3);
    const again = await call(t, 'POST', '/v1/leaks', { text: `KEY=${live.key}` });
    assert.equal((again.body.found as { action: string }[])[0]?.action, 'already_disabled');
    assert.equal((await call(t, 'POST', '/v1/leaks', { text: '' })).status, 400);
    assert.equal((await call(t, 'POST', '/v1/leaks', aKey())).status, 400);
  });
  test('shadow rows are no outcome: only real ENVIRONMENT_MISMATCH calls make a test key in production', async () => {
    const probe = await createKey(t, {
      name: 'crm-stg-shadowed',
      environment: 'staging',
      expiresAt: new Date(clock.now() + 200 * 86_400_000).toISOString(),
    });
    for (let i = 0; i < 2; i++) await verify(t, { key: probe.key, environment: 'production' });
    // Rows a narrowing's shadow set wrote (the code is what the narrower set would have answered):
    // whatever their code, they stand for calls that were not refused.
    for (let i = 0; i < 5; i++)
      t.kw.services.ctx.usage.record({
        at: clock.now(),
        keyId: probe.id,
        keyStart: String(probe.record.start),
        environment: 'production',
        permissions: [],
        resource: null,
        code: 'ENVIRONMENT_MISMATCH',
        ip: null,
        userAgent: null,
        latencyUs: 0,
        shadow: true,
      });
    const r = await report();
    assert.equal(find(r, 'testKeysInProduction', probe.id)?.count, 2);
    const logs = await call(t, 'GET', `/v1/logs?keyId=${probe.id}&shadow=true`);
    assert.equal((logs.body.items as { count: number }[])[0]?.count, 5, 'the shadow rows were written');
  });

  test('permissions used under a wider grant fold into it past the cap: governance keeps every call allowed', async () => {
    // 150 single-resource grants (a value equal to its grant never folds), one grant for all agents
    // and one for every logs action: the caller chooses the resource or action under those two. One
    // agent also has a grant of its own, overlapping agents:invoke: its calls count under it.
    const singles = Array.from({ length: 150 }, (_, i) => `accounts:charge:c${i}`);
    const k = await createKey(t, {
      // Wildcard grants are refused for production keys by the default policy.
      name: 'crm-stg-wide',
      environment: 'staging',
      permissions: [...singles, 'agents:invoke', 'agents:invoke:agt_1249', 'logs:*'],
      expiresAt: new Date(clock.now() + 200 * 86_400_000).toISOString(),
    });
    clock.advance(8 * 86_400); // old enough for unused grants to be judged
    type Call = [string, string | undefined];
    const agents = Array.from({ length: 250 }, (_, i): Call => ['agents:invoke', `agt_${1000 + i}`]);
    const accounts = singles.map((p): Call => [p, undefined]);
    const logs = Array.from({ length: 30 }, (_, i): Call => [`logs:action${i}`, undefined]);
    type Seen = { value: string; count: number }[];
    const used = async (): Promise<Seen> => {
      await t.kw.services.ctx.usage.flush();
      const u = await call(t, 'GET', `/v1/keys/${k.id}/usage?days=1`);
      assert.equal(u.status, 200, u.raw);
      return u.body.permissionsUsed as Seen;
    };
    const count = (xs: Seen, v: string): number | undefined => xs.find((x) => x.value === v)?.count;
    const send = async (calls: Call[]): Promise<void> => {
      for (const [permission, resource] of calls)
        await verify(t, { key: k.key, environment: 'staging', permission, resource });
    };
    // One flush: 100 grants used as themselves, then (in primary-key order) 250 resources: the cap
    // of 200 values keeps 100 of them; 149 are counted as agents:invoke, and agt_1249 (the last, past
    // the cap) as its own grant. The same on both databases (statements of 400 rows on PostgreSQL,
    // of 64 on SQLite).
    await send([...agents, ...accounts.slice(0, 100)]);
    const first = await used();
    assert.equal(first.length, 100 + 100 + 1 + 1);
    assert.equal(count(first, 'agents:invoke'), 149);
    assert.equal(count(first, 'agents:invoke:agt_1249'), 1);
    // Past the cap, a value that is a grant itself still gets its own row; every logs action (a
    // caller-chosen action under logs:*) is counted as logs:*; a new resource adds no row.
    await send([
      ...accounts.slice(100),
      ...logs,
      ['agents:invoke', 'agt_9999'],
      ['accounts:charge:c7', undefined],
    ]);
    const after = await used();
    assert.equal(after.length, 150 + 100 + 1 + 2);
    assert.ok(singles.every((p) => count(after, p) === (p === 'accounts:charge:c7' ? 2 : 1)));
    assert.equal(count(after, 'logs:*'), 30);
    assert.equal(count(after, 'agents:invoke'), 150);
    assert.equal(
      after.reduce((n, x) => n + x.count, 0),
      150 + 250 + 30 + 2,
      'every call is counted',
    );

    const r = await report();
    const op = find(r, 'overPrivileged', k.id);
    assert.deepEqual(op?.unusedPermissions, [], 'no grant looks unused because its calls were folded');
    const suggested = op?.suggestedPermissions as string[];
    assert.ok(suggested.includes('agents:invoke') && suggested.includes('logs:*'));
    // The suggested set still allows every call the key made.
    const grants = compileGrants(suggested);
    for (const [permission, resource] of [...agents, ...accounts, ...logs])
      assert.ok(allows(grants, permission, resource), `${permission} ${resource ?? ''}`);

    // Narrowed from logs:* to two actions it used (and given billing:*, never used): the calls
    // counted as logs:* (a grant it no longer holds) still make those two used, and the suggestion
    // keeps them.
    const narrowed = [...singles, 'agents:invoke', 'agents:invoke:agt_1249', 'logs:action3', 'logs:action4'];
    const patched = await call(t, 'PATCH', `/v1/keys/${k.id}`, { permissions: [...narrowed, 'billing:*'] });
    assert.equal(patched.status, 200, patched.raw);
    const op2 = find(await report(), 'overPrivileged', k.id);
    assert.deepEqual(op2?.unusedPermissions, ['billing:*']);
    assert.deepEqual(
      op2?.suggestedPermissions,
      [...new Set([...(op2?.suggestedPermissions as string[]), ...narrowed])].sort(),
    );
    const again = compileGrants(op2?.suggestedPermissions);
    for (const [permission, resource] of [...agents, ...accounts, ['logs:action3', undefined] as const])
      assert.ok(allows(again, permission, resource), `${permission} ${resource ?? ''}`);
  });
  // Usage is written when a test flushes (or a report asks for it), never by the timer in between: a
  // test's calls are then one flush however slow the machine (the cap test depends on it).
  return { clock, env: { KEYWARDEN_USAGE_FLUSH_MS: '3600000' } };
});
