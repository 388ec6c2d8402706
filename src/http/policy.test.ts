import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aKey, call, createKey, describeEachDialect } from '../testing/harness.js';

describeEachDialect('policy', (t) => {
  async function refused(body: Record<string, unknown>, rule: string, detail: RegExp): Promise<void> {
    const r = await call(t, 'POST', '/v1/keys', body);
    assert.equal(r.status, 422, r.raw);
    assert.equal(r.body.code, 'POLICY_VIOLATION');
    assert.match(String(r.body.detail), new RegExp(`^policy rule ${rule.replace('.', '\\.')}: `));
    assert.match(String(r.body.detail), detail);
  }

  test('the default policy is enforced at creation with the rule and the value', async () => {
    await refused(aKey({ name: 'Bad_Name' }), 'naming.pattern', /name "Bad_Name" does not match/);
    await refused(
      aKey({ name: 'temp-prod-thing' }),
      'naming.denyList',
      /"temp" in name "temp-prod-thing" is a generic name/,
    );
    await refused(
      aKey({ name: 'crm-prod-x', environment: 'staging' }),
      'naming.environment',
      /"prod" in the name of a staging key/,
    );
    await refused(aKey({ owner: { team: 'crm' } }), 'requireOwner', /owner team and contact/);
    await refused(
      aKey({ expiresAt: undefined }),
      'maxLifetimeDays',
      /production keys need an expiresAt within 365 days/,
    );
    await refused(
      aKey({ expiresAt: new Date(Date.now() + 400 * 86_400_000).toISOString() }),
      'maxLifetimeDays',
      /beyond the 365-day limit/,
    );
    await refused(aKey({ permissions: ['agents:*'] }), 'allowWildcards', /wildcard permission "agents:\*"/);
    const staging = await call(
      t,
      'POST',
      '/v1/keys',
      aKey({ name: 'crm-stg-wild', environment: 'staging', permissions: ['*'], expiresAt: undefined }),
    );
    assert.equal(staging.status, 201, 'staging allows wildcards and no expiry by default');
  });

  test('patch is checked against the rules of what it changes only', async () => {
    const k = await createKey(t);
    const r = await call(t, 'PATCH', `/v1/keys/${k.id}`, { permissions: ['agents:*'] });
    assert.equal(r.status, 422);
    assert.match(String(r.body.detail), /allowWildcards/);
    assert.equal((await call(t, 'PATCH', `/v1/keys/${k.id}`, { name: 'crm-dev-oops' })).status, 422);
    // Tighten the policy: the existing key is untouched and unrelated edits still work.
    assert.equal((await call(t, 'PUT', '/v1/policy', { naming: { denyList: ['crm'] } })).status, 200);
    const unrelated = await call(t, 'PATCH', `/v1/keys/${k.id}`, { metadata: { note: 'still editable' } });
    assert.equal(unrelated.status, 200, unrelated.raw);
    assert.equal(
      (await call(t, 'PUT', '/v1/policy', {})).status,
      200,
      'an empty document restores the defaults',
    );
  });

  test('GET and PUT /v1/policy: defaults, validation, audit, default rate limit', async () => {
    const g = await call(t, 'GET', '/v1/policy');
    assert.equal(g.status, 200);
    assert.equal((g.body.naming as { pattern: string }).pattern, '^[a-z0-9]+(-[a-z0-9]+){2,}$');
    assert.equal(g.body.staleAfterDays, 90);
    const bad = await call(t, 'PUT', '/v1/policy', { naming: { pattern: '([a-z' } });
    assert.equal(bad.status, 422);
    assert.match(String(bad.body.detail), /naming\.pattern is not a valid RE2 regular expression/);
    assert.equal((await call(t, 'PUT', '/v1/policy', { staleAfterDays: 0 })).status, 400);
    assert.equal((await call(t, 'PUT', '/v1/policy', { colour: 'red' })).status, 400);
    const put = await call(t, 'PUT', '/v1/policy', {
      requireOwner: false,
      environments: { production: { defaultRateLimit: { name: 'default', limit: 50, windowSeconds: 60 } } },
    });
    assert.equal(put.status, 200, put.raw);
    assert.equal(
      (put.body.environments as { production: { maxLifetimeDays: number } }).production.maxLifetimeDays,
      365,
    );
    const k = await call(t, 'POST', '/v1/keys', aKey({ owner: null }));
    assert.equal(k.status, 201, k.raw);
    assert.deepEqual((k.body.record as { ratelimits: unknown }).ratelimits, [
      { name: 'default', limit: 50, windowSeconds: 60 },
    ]);
    const audit = await call(t, 'GET', '/v1/audit?action=policy.update&limit=1');
    const entry = (audit.body.items as { after: { requireOwner: boolean }; before: unknown }[])[0];
    assert.equal(entry?.after.requireOwner, false);
    await call(t, 'PUT', '/v1/policy', {});
  });
});
