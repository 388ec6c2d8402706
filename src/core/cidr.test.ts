import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileAllowlist, ipAllowed, isCidr, isValidIp } from './cidr.js';

test('CIDR syntax', () => {
  for (const c of [
    '10.0.0.0/8',
    '203.0.113.7',
    '203.0.113.7/32',
    '0.0.0.0/0',
    '2001:db8::/32',
    '::1',
    '::/0',
    'fe80::1/128',
  ]) {
    assert.ok(isCidr(c), c);
  }
  for (const c of [
    '10.0.0.0/33',
    '2001:db8::/129',
    '10.0.0',
    '0x7f.1',
    '127.1',
    'localhost',
    '10.0.0.0/',
    '/8',
    '10.0.0.0/8/8',
    '',
    '1.2.3.4/-1',
    '999.1.1.1',
  ]) {
    assert.ok(!isCidr(c), c);
  }
  assert.ok(isValidIp('::ffff:10.1.2.3'));
  assert.ok(!isValidIp('10.0.0.0/8'));
});

test('matching, including edges of ranges and mapped IPv6', () => {
  const list = compileAllowlist(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32']);
  assert.ok(ipAllowed(list, '10.0.0.0'));
  assert.ok(ipAllowed(list, '10.255.255.255'));
  assert.ok(!ipAllowed(list, '11.0.0.0'));
  assert.ok(!ipAllowed(list, '9.255.255.255'));
  assert.ok(ipAllowed(list, '192.168.1.7'));
  assert.ok(!ipAllowed(list, '192.168.1.8'));
  assert.ok(ipAllowed(list, '2001:db8:ffff::1'));
  assert.ok(!ipAllowed(list, '2001:db9::1'));
  assert.ok(ipAllowed(list, '::ffff:10.1.2.3'), 'IPv4-mapped IPv6 matches the IPv4 range');
  assert.ok(!ipAllowed(list, undefined), 'an allowlist needs an ip');
  assert.ok(!ipAllowed(list, 'not-an-ip'));
});

test('an empty allowlist allows everyone; /0 allows every address of its family', () => {
  assert.ok(ipAllowed(compileAllowlist([]), undefined));
  const all4 = compileAllowlist(['0.0.0.0/0']);
  assert.ok(ipAllowed(all4, '1.2.3.4'));
  assert.ok(!ipAllowed(all4, '::1'));
});
