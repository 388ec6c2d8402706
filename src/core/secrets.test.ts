import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deriveServerKeys, deriveSubkey, isSealed, seal, unseal } from './secrets.js';

const SECRET = 'a-server-secret-of-at-least-32-characters';

test('subkeys: one per use, stable for a secret, different for another', () => {
  const k = deriveServerKeys(SECRET);
  assert.equal(k.auditChain.length, 32);
  assert.notDeepEqual(k.auditChain, k.webhookSecrets);
  assert.deepEqual(deriveServerKeys(SECRET), k);
  assert.notDeepEqual(deriveServerKeys(`${SECRET}x`).auditChain, k.auditChain);
  assert.notEqual(deriveServerKeys(`${SECRET}x`).check, k.check);
  assert.ok(!k.check.includes(k.auditChain.toString('hex')));
  assert.throws(() => deriveServerKeys('too short'), /at least 32/);
  // HKDF-SHA-256 (RFC 5869): the subkey is not the secret's plain hash.
  assert.equal(deriveSubkey(SECRET, 'audit-chain').toString('hex'), k.auditChain.toString('hex'));
});

test('sealed values open only with their key and on their row', () => {
  const { webhookSecrets: key } = deriveServerKeys(SECRET);
  const sealed = seal(key, 'whsec_abc', 'whk_1');
  assert.ok(isSealed(sealed));
  assert.ok(!sealed.includes('whsec_abc'));
  assert.notEqual(seal(key, 'whsec_abc', 'whk_1'), sealed, 'a fresh nonce each time');
  assert.equal(unseal(key, sealed, 'whk_1'), 'whsec_abc');
  assert.throws(() => unseal(key, sealed, 'whk_2'));
  assert.throws(() => unseal(deriveServerKeys(`${SECRET}x`).webhookSecrets, sealed, 'whk_1'));
  // One character of the tag changed (the second-to-last: the last may carry unused bits). The
  // replacement is chosen from that character itself, so the value always changes.
  const flipped = sealed.slice(0, -2) + (sealed.at(-2) === 'A' ? 'B' : 'A') + sealed.slice(-1);
  assert.notEqual(flipped, sealed);
  assert.throws(() => unseal(key, flipped, 'whk_1'));
  assert.ok(!isSealed('whsec_plaintext'));
});
