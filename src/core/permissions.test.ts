import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allows, compileGrants, firstDenied, isPermission, isRequiredPermission } from './permissions.js';

test('grammar', () => {
  for (const p of [
    '*',
    'agents:*',
    'agents:invoke',
    'agents:invoke:agt_42',
    'workflows:run:wf-7.a',
    'a.b:c_d',
  ]) {
    assert.ok(isPermission(p), p);
  }
  for (const p of [
    '',
    'agents',
    'agents:',
    ':invoke',
    'Agents:invoke',
    'agents:invoke:',
    'a:b:c:d',
    '*:invoke',
    'agents:in voke',
    'agents:invoke:agt 1',
  ]) {
    assert.ok(!isPermission(p), p);
  }
  assert.ok(isRequiredPermission('agents:invoke'));
  assert.ok(!isRequiredPermission('agents:*'));
  assert.ok(!isRequiredPermission('*'));
});

const table: [string[], string, string | undefined, boolean][] = [
  // grants, required, resource, allowed
  [['agents:invoke'], 'agents:invoke', undefined, true],
  [['agents:invoke'], 'agents:invoke', 'agt_42', true],
  [['agents:invoke'], 'agents:read', undefined, false],
  [['agents:invoke'], 'workflows:invoke', undefined, false],
  [['agents:invoke:agt_42'], 'agents:invoke', 'agt_42', true],
  [['agents:invoke:agt_42'], 'agents:invoke:agt_42', undefined, true],
  [['agents:invoke:agt_42'], 'agents:invoke', 'agt_43', false],
  [['agents:invoke:agt_42'], 'agents:invoke', undefined, false],
  [['agents:*'], 'agents:delete', 'agt_1', true],
  [['agents:*'], 'workflows:run', undefined, false],
  [['agents:*:agt_42'], 'agents:delete', 'agt_42', true],
  [['agents:*:agt_42'], 'agents:delete', 'agt_1', false],
  [['*'], 'anything:at', 'all', true],
  [[], 'agents:invoke', undefined, false],
  [['agents:invoke:agt_42', 'agents:invoke:agt_43'], 'agents:invoke', 'agt_43', true],
];

test('matching table', () => {
  for (const [grants, required, resource, expected] of table) {
    assert.equal(
      allows(compileGrants(grants), required, resource),
      expected,
      `${grants.join(',')} ⊢ ${required} ${resource ?? ''}`,
    );
  }
});

test('firstDenied names the first missing permission of several', () => {
  const g = compileGrants(['agents:invoke', 'logs:read']);
  assert.equal(firstDenied(g, ['agents:invoke', 'logs:read']), undefined);
  assert.equal(firstDenied(g, ['agents:invoke', 'logs:write', 'x:y']), 'logs:write');
});
