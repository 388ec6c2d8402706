import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKey } from './keys.js';
import { findKeys, gitleaksRule } from './scan.js';

test('finds checksum-valid keys with line and column, ignores look-alikes and other prefixes', () => {
  const a = generateKey('kw', 'prod');
  const b = generateKey('kw', 'adm');
  const fake = `kw_prod_${'A'.repeat(36)}`;
  const typo = a.slice(0, -1) + (a.endsWith('x') ? 'y' : 'x');
  const other = generateKey('acme', 'prod');
  const text = `line one\nexport KEY=${a}\n${fake} ${typo}\n  "admin": "${b}", again ${a}\n${other}`;
  const found = findKeys(text, 'kw');
  assert.deepEqual(
    found.map((f) => [f.kind, f.line, f.column]),
    [
      ['production', 2, 12],
      ['admin', 4, 13],
    ],
  );
  assert.equal(found[0]?.masked, `${a.slice(0, 12)}…${a.slice(-4)}`);
  assert.ok(!JSON.stringify(found.map((f) => f.masked)).includes(a.slice(12, -4)));
});

test('a key glued to other characters is not a key', () => {
  const a = generateKey('kw', 'dev');
  assert.equal(findKeys(`x${a}`, 'kw').length, 0);
  assert.equal(findKeys(`${a}Z`, 'kw').length, 0);
  assert.equal(findKeys(`"${a}"`, 'kw').length, 1);
});

test('the gitleaks rule names the prefix and matches a real key', () => {
  const rule = gitleaksRule('kw');
  assert.match(rule, /^\[\[rules\]\]/);
  const re = /regex = '''(.+)'''/.exec(rule)?.[1] ?? '';
  assert.ok(new RegExp(re).test(generateKey('kw', 'prod')));
});
