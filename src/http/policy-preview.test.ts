import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call, createKey, describeEachDialect } from '../testing/harness.js';

interface Preview {
  checked: number;
  affected: number;
  rules: { rule: string; keys: { keyId: string; name: string; team: string | null; detail: string }[] }[];
}

/** POST /v1/policy/preview and /v1/teams/{team}/policy/preview: what a PUT would break, changing nothing. */
describeEachDialect('policy preview', (t) => {
  async function admin(body: Record<string, unknown>): Promise<string> {
    const r = await call(t, 'POST', '/v1/admin-keys', body);
    assert.equal(r.status, 201, r.raw);
    return r.body.key as string;
  }

  test('lists the keys that would stop complying, by rule, with the reason; nothing changes', async () => {
    const wild = await createKey(t, {
      name: 'pay-stg-wild-sync',
      environment: 'staging',
      owner: { team: 'pay', contact: 'pay@example.com' },
      permissions: ['pay:*'],
      expiresAt: undefined,
    });
    const narrow = await createKey(t, {
      name: 'pay-stg-narrow',
      environment: 'staging',
      owner: { team: 'pay', contact: 'pay@example.com' },
      permissions: ['pay:read'],
      expiresAt: new Date(Date.now() + 10 * 86_400_000).toISOString(),
    });
    const gone = await createKey(t, {
      name: 'ops-stg-gone-sync',
      environment: 'staging',
      permissions: ['x:*'],
      expiresAt: undefined,
    });
    assert.equal((await call(t, 'DELETE', `/v1/keys/${gone.id}`)).status, 200);
    const before = await call(t, 'GET', '/v1/policy');
    const auditBefore = (await call(t, 'GET', '/v1/audit?limit=200')).body.items as unknown[];
    const body = {
      environments: { staging: { allowWildcards: false, maxLifetimeDays: 30 } },
      naming: { denyList: ['test', 'narrow'] },
    };
    const r = await call(t, 'POST', '/v1/policy/preview', body);
    assert.equal(r.status, 200, r.raw);
    const p = r.body as unknown as Preview;
    assert.ok(p.checked >= 2);
    assert.equal(p.affected, 2);
    const byRule = Object.fromEntries(p.rules.map((x) => [x.rule, x.keys]));
    assert.deepEqual(Object.keys(byRule), ['naming.denyList', 'maxLifetimeDays', 'allowWildcards']);
    assert.deepEqual(
      byRule.allowWildcards?.map((k) => [k.keyId, k.team]),
      [[wild.id, 'pay']],
      'the deleted key is not listed',
    );
    assert.match(
      byRule.allowWildcards?.[0]?.detail ?? '',
      /wildcard permission "pay:\*" is not allowed for staging keys/,
    );
    assert.deepEqual(
      byRule.maxLifetimeDays?.map((k) => k.name),
      ['pay-stg-wild-sync'],
      'the key expiring in 10 days complies with a 30-day limit',
    );
    assert.match(byRule.maxLifetimeDays?.[0]?.detail ?? '', /staging keys need an expiresAt within 30 days/);
    assert.deepEqual(
      byRule['naming.denyList']?.map((k) => k.keyId),
      [narrow.id],
    );
    assert.match(
      byRule['naming.denyList']?.[0]?.detail ?? '',
      /"narrow" in name "pay-stg-narrow" is a generic name/,
    );

    // Nothing was changed: the policy, the audit log, and keys are still created under the old rules.
    assert.deepEqual((await call(t, 'GET', '/v1/policy')).body, before.body);
    assert.equal(
      ((await call(t, 'GET', '/v1/audit?limit=200')).body.items as unknown[]).length,
      auditBefore.length,
    );

    // A key already breaking a rule is not listed again for it.
    assert.equal((await call(t, 'PUT', '/v1/policy', body)).status, 200);
    const again = (await call(t, 'POST', '/v1/policy/preview', body)).body as unknown as Preview;
    assert.deepEqual(again.rules, []);
    assert.equal(again.affected, 0);
    assert.equal((await call(t, 'PUT', '/v1/policy', {})).status, 200);
  });

  test('refusals are those of PUT, as problem+json; scope and permissions as reading and writing policy', async () => {
    const bad = await call(t, 'POST', '/v1/policy/preview', { naming: { pattern: '([a-z' } });
    assert.equal(bad.status, 422);
    assert.match(String(bad.headers['content-type']), /^application\/problem\+json/);
    assert.match(String(bad.body.detail), /not a valid RE2 regular expression/);
    assert.equal((await call(t, 'POST', '/v1/policy/preview', { colour: 'red' })).status, 400);

    const teamWriter = await admin({
      name: 'pay-policy',
      permissions: ['policy:write', 'keys:read'],
      team: 'pay',
    });
    const global = await call(t, 'POST', '/v1/policy/preview', {}, teamWriter);
    assert.equal(global.status, 403);
    assert.match(String(global.body.detail), /whole deployment/);
    const other = await call(t, 'POST', '/v1/teams/ops/policy/preview', {}, teamWriter);
    assert.equal(other.status, 403);
    assert.match(String(other.body.detail), /cannot act on team "ops"/);

    const writerOnly = await admin({ name: 'policy-only', permissions: ['policy:write'] });
    const noRead = await call(t, 'POST', '/v1/policy/preview', {}, writerOnly);
    assert.equal(noRead.status, 403);
    assert.match(String(noRead.body.detail), /keys:read/);
    const reader = await admin({ name: 'keys-reader', permissions: ['keys:read'] });
    assert.equal((await call(t, 'POST', '/v1/policy/preview', {}, reader)).status, 403);

    const loose = await call(t, 'POST', '/v1/teams/pay/policy/preview', { requireOwner: false }, teamWriter);
    assert.equal(loose.status, 422);
    assert.equal(loose.body.code, 'POLICY_VIOLATION');
    assert.match(String(loose.body.detail), /team policy rule requireOwner would loosen/);
  });

  test("a team preview checks only the team's keys against the team policy on top of the deployment's", async () => {
    await createKey(t, {
      name: 'crm-prod-team-sync',
      owner: { team: 'crm', contact: 'crm@example.com' },
    });
    const other = await createKey(t, {
      name: 'web-prod-other-sync',
      owner: { team: 'web', contact: 'web@example.com' },
    });
    const teamWriter = await admin({
      name: 'crm-policy',
      permissions: ['policy:write', 'keys:read'],
      team: 'crm',
    });
    const r = await call(
      t,
      'POST',
      '/v1/teams/crm/policy/preview',
      { naming: { pattern: '^crm-stg-' } },
      teamWriter,
    );
    assert.equal(r.status, 200, r.raw);
    const p = r.body as unknown as Preview;
    assert.ok(p.rules.length === 1 && p.rules[0]?.rule === 'naming.pattern', r.raw);
    const names = p.rules[0]?.keys.map((k) => k.name) ?? [];
    assert.ok(names.includes('crm-prod-team-sync'), names.join());
    assert.ok(
      names.every((n) => n.startsWith('crm-')),
      'no key of another team',
    );
    assert.ok(!r.raw.includes(other.id));
    assert.match(p.rules[0]?.keys[0]?.detail ?? '', /does not match the team's naming pattern \^crm-stg-/);
    const stored = await call(t, 'GET', '/v1/teams/crm/policy');
    assert.equal((stored.body.naming as { teamPattern: string | null }).teamPattern, null, 'nothing stored');
  });
});
