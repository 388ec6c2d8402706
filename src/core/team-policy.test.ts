import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULT_POLICY,
  effectivePolicy,
  tighteningViolations,
  violations,
  withDefaults,
  type KeyFacts,
} from './policy.js';

const rulesOf = (doc: Parameters<typeof tighteningViolations>[0], base = DEFAULT_POLICY): string[] =>
  tighteningViolations(doc, base).map((v) => v.rule);

test('a team policy may tighten every value', () => {
  assert.deepEqual(
    rulesOf({
      naming: { pattern: '^crm-', denyList: ['legacy'], requireEnvironmentSegment: true },
      requireOwner: true,
      environments: {
        production: { maxLifetimeDays: 30, allowWildcards: false },
        staging: { maxLifetimeDays: 90, defaultRateLimit: { name: 'd', limit: 10, windowSeconds: 60 } },
      },
      rotationWarningDays: 60,
      staleAfterDays: 30,
      sharedKeyThreshold: 2,
    }),
    [],
  );
});

test('each looser value is named', () => {
  assert.deepEqual(rulesOf({ requireOwner: false }), ['requireOwner']);
  assert.deepEqual(rulesOf({ naming: { requireEnvironmentSegment: false } }), [
    'naming.requireEnvironmentSegment',
  ]);
  assert.deepEqual(rulesOf({ environments: { production: { maxLifetimeDays: 366 } } }), [
    'environments.production.maxLifetimeDays',
  ]);
  assert.deepEqual(rulesOf({ environments: { production: { maxLifetimeDays: null } } }), [
    'environments.production.maxLifetimeDays',
  ]);
  assert.deepEqual(rulesOf({ environments: { production: { allowWildcards: true } } }), [
    'environments.production.allowWildcards',
  ]);
  assert.deepEqual(rulesOf({ rotationWarningDays: 10, staleAfterDays: 91, sharedKeyThreshold: 6 }), [
    'rotationWarningDays',
    'staleAfterDays',
    'sharedKeyThreshold',
  ]);
  const limited = withDefaults({
    environments: { production: { defaultRateLimit: { name: 'd', limit: 100, windowSeconds: 60 } } },
  });
  assert.deepEqual(
    rulesOf(
      { environments: { production: { defaultRateLimit: { name: 't', limit: 200, windowSeconds: 60 } } } },
      limited,
    ),
    ['environments.production.defaultRateLimit'],
  );
  assert.deepEqual(rulesOf({ environments: { production: { defaultRateLimit: null } } }, limited), [
    'environments.production.defaultRateLimit',
  ]);
  assert.deepEqual(
    rulesOf(
      { environments: { production: { defaultRateLimit: { name: 't', limit: 1, windowSeconds: 1 } } } },
      limited,
    ),
    [],
  );
});

test('the effective policy takes the stricter of each value, and names must match both patterns', () => {
  const team = {
    naming: { pattern: '^crm-', denyList: ['legacy'] },
    environments: { production: { maxLifetimeDays: 30 } },
  };
  const eff = effectivePolicy(DEFAULT_POLICY, team);
  assert.equal(eff.environments.production.maxLifetimeDays, 30);
  assert.ok(eff.naming.denyList.includes('legacy') && eff.naming.denyList.includes('test'));
  // The deployment tightened below the team's value later: the deployment's wins.
  const later = effectivePolicy(
    withDefaults({ environments: { production: { maxLifetimeDays: 10 } } }),
    team,
  );
  assert.equal(later.environments.production.maxLifetimeDays, 10);
  const facts: KeyFacts = {
    name: 'ops-prod-agent-call',
    environment: 'production',
    owner: { team: 'crm', contact: 'c@x' },
    permissions: [],
    expiresAt: '2026-06-10T00:00:00.000Z',
    createdAt: '2026-06-01T00:00:00.000Z',
  };
  assert.deepEqual(violations(facts, DEFAULT_POLICY), []);
  assert.deepEqual(
    violations(facts, eff).map((v) => v.rule),
    ['naming.pattern'],
  );
  assert.deepEqual(violations({ ...facts, name: 'crm-prod-agent-call' }, eff), []);
  assert.equal(effectivePolicy(DEFAULT_POLICY, undefined), DEFAULT_POLICY);
});
