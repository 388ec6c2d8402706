import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDigester, createHasher, generateKey } from '../../core/keys.js';
import { resolveSecret, type ResolvedSecret } from '../../core/verify.js';
import { keyRecord } from '../../testing/key-record.js';
import { MemoryVerificationCache } from './cache.js';

/** Entries of keys with an identity are also indexed by the identity (docs/identities.md). */
const hasher = createHasher();
const digester = createDigester();

const entry = (keyId: string, identityId: string | null): ResolvedSecret =>
  resolveSecret(
    keyRecord({ id: keyId, identityId }),
    { keyId, createdAt: '', expiresAt: null, replacedAt: null },
    1_000_000,
    identityId === null
      ? null
      : { id: identityId, externalId: `ext-${identityId}`, ratelimits: [], credits: null },
  );

function aKey(): { hash: string; digest: string } {
  const key = generateKey('kw', 'prod');
  return { hash: hasher(key), digest: digester(key) };
}

test('invalidating an identity drops the entries of all of its keys, and only those', () => {
  const c = new MemoryVerificationCache({
    max: 100,
    ttlMs: 60_000,
    negativeTtlMs: 10_000,
    now: () => 1_000_000,
  });
  const [a, b, rotatedB, other, none] = [aKey(), aKey(), aKey(), aKey(), aKey()];
  c.set(a.hash, entry('key_a', 'idn_1'));
  c.set(b.hash, entry('key_b', 'idn_1'));
  c.set(rotatedB.hash, entry('key_b', 'idn_1'));
  c.set(other.hash, entry('key_c', 'idn_2'));
  c.set(none.hash, entry('key_d', null));
  const epoch = c.epoch;
  c.invalidateKey('idn_1');
  assert.equal(c.epoch, epoch + 1);
  for (const k of [a, b, rotatedB]) assert.equal(c.get(k.hash), undefined);
  for (const k of [other, none]) assert.notEqual(c.get(k.hash), undefined);
  assert.equal(c.size, 2);
  // The dropped entries left the key index too: their numbers are reused without mixing keys up.
  c.invalidateKey('key_a');
  c.invalidateKey('key_b');
  const n = aKey();
  c.set(n.hash, entry('key_e', 'idn_3'));
  c.invalidateKey('key_c');
  assert.equal(c.get(other.hash), undefined);
  assert.notEqual(c.get(n.hash), undefined);
  // Invalidating a key drops it from its identity's index: the identity then drops only the others.
  const x = aKey();
  const y = aKey();
  c.set(x.hash, entry('key_x', 'idn_4'));
  c.set(y.hash, entry('key_y', 'idn_4'));
  c.invalidateKey('key_x');
  const z = aKey();
  c.set(z.hash, entry('key_z', null)); // may take key_x's old entry number
  c.invalidateKey('idn_4');
  assert.equal(c.get(y.hash), undefined);
  assert.notEqual(c.get(z.hash), undefined, "a reused entry number is not dropped by the old key's identity");
});

test("a reloaded entry moves between identities' indexes", () => {
  const c = new MemoryVerificationCache({
    max: 100,
    ttlMs: 60_000,
    negativeTtlMs: 10_000,
    now: () => 1_000_000,
  });
  const k = aKey();
  c.set(k.hash, entry('key_a', 'idn_1'));
  c.set(k.hash, entry('key_a', 'idn_2'));
  c.invalidateKey('idn_1');
  assert.notEqual(c.get(k.hash), undefined, 'no longer of idn_1');
  c.invalidateKey('idn_2');
  assert.equal(c.get(k.hash), undefined);
  // Eviction forgets both indexes.
  const small = new MemoryVerificationCache({
    max: 1,
    ttlMs: 60_000,
    negativeTtlMs: 10_000,
    now: () => 1_000_000,
  });
  const [p, q] = [aKey(), aKey()];
  small.set(p.hash, entry('key_p', 'idn_9'));
  small.set(q.hash, entry('key_q', null));
  small.invalidateKey('idn_9');
  assert.notEqual(small.get(q.hash), undefined);
});
