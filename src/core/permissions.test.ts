import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  allows,
  compileGrants,
  firstDenied,
  grantAllowing,
  isPermission,
  isRequiredPermission,
} from './permissions.js';

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

test('grantAllowing names a grant exactly when allows allows, and that grant alone allows the call', () => {
  // Every grant form over two types, two actions and two ids, in sets of one and two; every request.
  const forms = ['*', 'a:*', 'a:x', 'a:x:1', 'a:*:1', 'a:y', 'a:y:2', 'b:x', 'b:*:1'];
  const sets = [
    [],
    ...forms.map((f) => [f]),
    ...forms.flatMap((f, i) => forms.slice(i + 1).map((g) => [f, g])),
  ];
  const requests: [string, string | undefined][] = [];
  for (const p of ['a:x', 'a:y', 'b:x', 'a:x:1', 'a:y:2', 'b:z:1'])
    for (const r of [undefined, '1', '2']) requests.push([p, r]);
  let named = 0;
  for (const set of sets) {
    const grants = compileGrants(set);
    for (const [p, r] of requests) {
      const g = grantAllowing(grants, p, r);
      const what = `${set.join(',')} ⊢ ${p} ${r ?? ''}`;
      assert.equal(g !== undefined, allows(grants, p, r), what);
      if (g === undefined) continue;
      named++;
      assert.ok(grants.has(g), what);
      assert.ok(allows(compileGrants([g]), p, r), what);
    }
  }
  assert.ok(named > 300, `${named} allowed requests checked`);
  assert.equal(grantAllowing(compileGrants(['agents:invoke']), 'agents:invoke', 'agt_42'), 'agents:invoke');
  // The narrowest of overlapping grants: the call's own resource form, then the action, the type, `*`.
  assert.equal(grantAllowing(compileGrants(['agents:*', '*']), 'agents:invoke', 'agt_42'), 'agents:*');
  const overlapping = compileGrants([
    '*',
    'agents:*',
    'agents:invoke',
    'agents:*:agt_1',
    'agents:invoke:agt_1',
  ]);
  assert.equal(grantAllowing(overlapping, 'agents:invoke', 'agt_1'), 'agents:invoke:agt_1');
  assert.equal(grantAllowing(overlapping, 'agents:invoke:agt_1'), 'agents:invoke:agt_1');
  assert.equal(grantAllowing(overlapping, 'agents:run', 'agt_1'), 'agents:*:agt_1');
  assert.equal(grantAllowing(overlapping, 'agents:invoke', 'agt_2'), 'agents:invoke');
  assert.equal(grantAllowing(overlapping, 'agents:run'), 'agents:*');
  assert.equal(grantAllowing(overlapping, 'logs:read'), '*');
  assert.equal(grantAllowing(compileGrants(['agents:*:agt_42']), 'agents:run', 'agt_42'), 'agents:*:agt_42');
});
