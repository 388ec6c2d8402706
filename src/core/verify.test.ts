import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keyRecord } from '../testing/key-record.js';
import type { KeyRecord } from './model.js';
import { decide, resolveSecret, resultOf, type ResolvedSecret, type VerifyInput } from './verify.js';

const NOW = Date.parse('2026-06-01T00:00:00.000Z');

function found(over: Partial<KeyRecord> = {}, secretExpiresAt: string | null = null): ResolvedSecret {
  const secret = {
    keyId: 'key_1',
    createdAt: '2026-01-01T00:00:00.000Z',
    expiresAt: secretExpiresAt,
    replacedAt: secretExpiresAt === null ? null : '2026-05-31T00:00:00.000Z',
  };
  return resolveSecret(keyRecord(over), secret, 0);
}

const ok: VerifyInput = {
  key: 'x',
  environment: 'production',
  permissions: ['agents:invoke'],
  resource: 'agt_42',
  ip: '203.0.113.7',
  cost: 1,
};

test('a key that passes every check is VALID and carries its identity', () => {
  const f = found();
  const d = decide(f, ok, NOW);
  assert.equal(d.code, 'VALID');
  const r = resultOf(f, d);
  assert.equal(r.valid, true);
  assert.equal(r.customerId, 'cus_7');
  assert.deepEqual(r.owner, { team: 'crm', contact: 'crm@example.com' });
});

test('codes are decided in SPEC order: the earliest failing check wins', () => {
  // Every later check also fails, so each case proves precedence over all that follow.
  const allBad: VerifyInput = { ...ok, environment: 'staging', ip: '10.0.0.1', resource: 'agt_1' };
  assert.equal(decide(null, allBad, NOW).code, 'NOT_FOUND');
  assert.equal(decide(found({ status: 'deleted' }), allBad, NOW).code, 'DELETED');
  assert.equal(
    decide(found({ status: 'disabled', expiresAt: '2020-01-01T00:00:00.000Z' }), allBad, NOW).code,
    'DISABLED',
  );
  assert.equal(decide(found({ expiresAt: '2026-05-01T00:00:00.000Z' }), allBad, NOW).code, 'EXPIRED');
  assert.equal(decide(found({}, '2026-05-31T12:00:00.000Z'), allBad, NOW).code, 'EXPIRED');
  assert.equal(decide(found(), allBad, NOW).code, 'ENVIRONMENT_MISMATCH');
  assert.equal(decide(found(), { ...allBad, environment: 'production' }, NOW).code, 'IP_NOT_ALLOWED');
  assert.equal(decide(found(), { ...ok, resource: 'agt_1' }, NOW).code, 'INSUFFICIENT_PERMISSIONS');
});

test('a rotated secret works inside its grace window and reports rotation', () => {
  const f = found({}, '2026-06-01T00:05:00.000Z');
  const d = decide(f, ok, NOW);
  assert.equal(d.code, 'VALID');
  assert.deepEqual(resultOf(f, d).rotation, {
    replacedAt: '2026-05-31T00:00:00.000Z',
    expiresAt: '2026-06-01T00:05:00.000Z',
  });
});

test('expiry is exact to the millisecond', () => {
  const at = '2026-06-01T00:00:00.000Z';
  assert.equal(decide(found({ expiresAt: at }), ok, NOW).code, 'EXPIRED');
  assert.equal(decide(found({ expiresAt: at }), ok, NOW - 1).code, 'VALID');
});

test('a key with an allowlist needs the ip; a key without one ignores it', () => {
  assert.equal(decide(found(), { ...ok, ip: undefined }, NOW).code, 'IP_NOT_ALLOWED');
  assert.equal(decide(found({ ipAllowlist: [] }), { ...ok, ip: undefined }, NOW).code, 'VALID');
});

test('rejection details never contain the presented key', () => {
  const secret = 'kw_prod_THISISTHESECRETVALUE';
  for (const f of [
    found({ status: 'disabled', disabledReason: 'rotation' }),
    found({ expiresAt: '2020-01-01T00:00:00.000Z' }),
    found(),
  ]) {
    const r = resultOf(f, decide(f, { ...ok, key: secret, environment: 'staging' }, NOW));
    assert.ok(!JSON.stringify(r).includes(secret));
  }
});

test('compiled keys share owners only when team and contact are the same, null and "" and NULs included', () => {
  const owners = [
    { team: 'crm', contact: 'x\u0000y' },
    { team: 'crm\u0000x', contact: 'y' },
    { team: '', contact: 'y' },
    { team: null, contact: 'y' },
    { team: 'crm', contact: 'x\u0000y' },
  ];
  const compiled = owners.map((owner) => found({ owner }).owner);
  compiled.forEach((o, i) => {
    assert.deepEqual(o, owners[i]);
  });
  assert.equal(compiled[0], compiled[4], 'identical owners are one shared object');
  assert.ok(Object.isFrozen(compiled[0]), 'a shared object is frozen');
});
