import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_POLICY, violations, withDefaults, type KeyFacts } from './policy.js';

const ok: KeyFacts = {
  name: 'crm-prod-agent-call',
  environment: 'production',
  owner: { team: 'crm', contact: 'crm@example.com' },
  permissions: ['agents:invoke:agt_42'],
  expiresAt: '2027-01-01T00:00:00.000Z',
  createdAt: '2026-06-01T00:00:00.000Z',
};
const rules = (over: Partial<KeyFacts>): string[] =>
  violations({ ...ok, ...over }, DEFAULT_POLICY).map((v) => v.rule);

test('a well-formed production key breaks no rule', () => {
  assert.deepEqual(rules({}), []);
});

test('naming: pattern, generic names, environment segment', () => {
  assert.deepEqual(rules({ name: 'CRM_agent' }), ['naming.pattern', 'naming.environment']);
  assert.deepEqual(rules({ name: 'test-prod-call' }), ['naming.denyList']);
  assert.deepEqual(rules({ name: 'crm-prod-key' }), ['naming.denyList']);
  assert.deepEqual(
    rules({ name: 'crm-prod-api-gateway' }),
    [],
    'a generic word inside a longer purpose is fine',
  );
  assert.deepEqual(rules({ name: 'crm-stg-agent-call' }), ['naming.environment']);
  assert.deepEqual(rules({ name: 'crm-production-agent-call' }), []);
  assert.deepEqual(rules({ name: 'crm-agent-call' }), ['naming.environment']);
  const d = violations(
    { ...ok, name: 'crm-prod-agent', environment: 'staging', expiresAt: null },
    DEFAULT_POLICY,
  );
  assert.equal(d[0]?.detail, '"prod" in the name of a staging key');
});

test('owner, lifetime and wildcards', () => {
  assert.deepEqual(rules({ owner: { team: 'crm', contact: null } }), ['requireOwner']);
  assert.deepEqual(rules({ expiresAt: null }), ['maxLifetimeDays']);
  assert.deepEqual(rules({ expiresAt: '2027-06-02T00:00:00.000Z' }), ['maxLifetimeDays']);
  assert.deepEqual(rules({ expiresAt: '2027-06-01T00:00:00.000Z' }), [], 'exactly 365 days is allowed');
  assert.deepEqual(rules({ permissions: ['agents:*'] }), ['allowWildcards']);
  assert.deepEqual(
    rules({ name: 'crm-dev-agent', environment: 'development', permissions: ['*'], expiresAt: null }),
    [],
  );
});

test('withDefaults fills what a partial document omits', () => {
  const p = withDefaults({ staleAfterDays: 10, environments: { staging: { allowWildcards: false } } });
  assert.equal(p.staleAfterDays, 10);
  assert.equal(p.rotationWarningDays, 30);
  assert.equal(p.environments.staging.allowWildcards, false);
  assert.equal(p.environments.staging.maxLifetimeDays, null);
  assert.equal(p.environments.production.maxLifetimeDays, 365);
  assert.deepEqual(p.naming, DEFAULT_POLICY.naming);
});
