import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDigester, createHasher, digestOfHash, generateKey, hashOfDigest } from '../../core/keys.js';
import type { KeyRecord } from '../../core/model.js';
import { UNKNOWN } from '../../core/ports.js';
import { resolveSecret, type ResolvedSecret } from '../../core/verify.js';
import { keyRecord } from '../../testing/key-record.js';
import { MemoryVerificationCache } from './cache.js';

const hasher = createHasher();
const digester = createDigester();

const record = (id: string): KeyRecord =>
  keyRecord({
    id,
    name: `key-${id}`,
    customerId: null,
    permissions: ['agents:invoke'],
    ipAllowlist: [],
    expiresAt: null,
  });

const entry = (id: string, loadedAtMs: number): ResolvedSecret =>
  resolveSecret(record(id), { keyId: id, createdAt: '', expiresAt: null, replacedAt: null }, loadedAtMs);

/** A fresh key's stored hash and its digest. */
function aKey(): { hash: string; digest: string } {
  const key = generateKey('kw', 'prod');
  return { hash: hasher(key), digest: digester(key) };
}

function cache(max = 100, clock = { t: 1_000_000 }) {
  const c = new MemoryVerificationCache({ max, ttlMs: 60_000, negativeTtlMs: 10_000, now: () => clock.t });
  return { c, clock };
}

test('the digest is the hasher’s hash as bytes, with or without a pepper', () => {
  for (const pepper of [undefined, 'a-server-side-pepper']) {
    const key = generateKey('kw', 'prod');
    const d = createDigester(pepper)(key);
    assert.equal(d.length, 32);
    assert.equal(hashOfDigest(d), createHasher(pepper)(key));
    assert.equal(digestOfHash(createHasher(pepper)(key)), d);
  }
  assert.notEqual(createDigester('pepper')('k'), createDigester()('k'));
  assert.equal(digestOfHash('not a hash'), undefined);
  // 43 characters, but not canonical base64url of 32 bytes (the last character has spare bits set).
  assert.equal(digestOfHash(`${'A'.repeat(42)}B`), undefined);
});

test('an entry is found by its stored hash and by its digest, until its TTL ends', () => {
  const { c, clock } = cache();
  const k = aKey();
  const e = entry('key_1', clock.t);
  c.set(k.hash, e);
  assert.equal(c.get(k.hash), e);
  assert.equal(c.lookup(k.digest, clock.t), e);
  assert.equal(c.lookup(k.digest, clock.t + 60_000), e, 'the TTL is inclusive');
  assert.equal(c.lookup(k.digest, clock.t + 60_001), undefined);
  // Expired entries are no longer served but kept, as the last known state for a storage outage
  // (bounded like every entry; replaced, invalidated or evicted as usual).
  assert.equal(c.size, 1, 'an expired entry is kept as the last known state, not served');
  assert.equal(c.get(aKey().hash), undefined);
  assert.throws(() => {
    c.set('not a hash', e);
  }, TypeError);
});

test('unknown hashes are remembered for the negative TTL and give way to a real entry', () => {
  const { c, clock } = cache();
  const k = aKey();
  c.set(k.hash, UNKNOWN);
  assert.equal(c.lookup(k.digest, clock.t + 10_000), UNKNOWN);
  assert.equal(c.lookup(k.digest, clock.t + 10_001), undefined);
  assert.equal(c.size, 0);
  c.set(k.hash, UNKNOWN);
  const e = entry('key_1', clock.t);
  c.set(k.hash, e);
  assert.equal(c.get(k.hash), e);
  assert.equal(c.size, 1);
});

test('a flood of unknown keys does not evict real entries', () => {
  const { c, clock } = cache(10);
  const real = Array.from({ length: 10 }, (_, i) => ({ ...aKey(), e: entry(`key_${i}`, clock.t) }));
  for (const r of real) c.set(r.hash, r.e);
  for (let i = 0; i < 5000; i++) c.set(aKey().hash, UNKNOWN);
  for (const r of real) assert.equal(c.lookup(r.digest, clock.t), r.e);
  assert.equal(c.size, 10 + 1000, 'unknown hashes are bounded apart (at least 1,000)');
});

test('when full, an entry not used since it was loaded is evicted before one in use', () => {
  const { c, clock } = cache(3);
  const ks = Array.from({ length: 4 }, (_, i) => ({ ...aKey(), e: entry(`key_${i}`, clock.t) }));
  const [a, b, cc, d] = ks as [(typeof ks)[0], (typeof ks)[0], (typeof ks)[0], (typeof ks)[0]];
  for (const k of [a, b, cc]) c.set(k.hash, k.e);
  c.lookup(a.digest, clock.t);
  c.lookup(cc.digest, clock.t);
  c.set(d.hash, d.e);
  assert.equal(c.get(b.hash), undefined, 'b was never used');
  for (const k of [a, cc, d]) assert.equal(c.get(k.hash), k.e);
  // The evicted entry left the key index: invalidating its key changes nothing else.
  c.invalidateKey('key_1');
  assert.equal(c.size, 3);
});

test('invalidateKey drops both secrets of a key in its rotation window, and only them', () => {
  const { c, clock } = cache();
  const old = aKey();
  const current = aKey();
  const other = aKey();
  c.set(old.hash, entry('key_1', clock.t));
  c.set(current.hash, entry('key_1', clock.t));
  c.set(other.hash, entry('key_2', clock.t));
  const epoch = c.epoch;
  c.invalidateKey('key_1');
  assert.equal(c.epoch, epoch + 1);
  assert.equal(c.get(old.hash), undefined);
  assert.equal(c.get(current.hash), undefined);
  assert.notEqual(c.get(other.hash), undefined);
  assert.equal(c.size, 1);
  // The freed entry numbers are reused without mixing keys up.
  const next = aKey();
  c.set(next.hash, entry('key_3', clock.t));
  c.invalidateKey('key_2');
  assert.equal(c.get(other.hash), undefined);
  assert.notEqual(c.get(next.hash), undefined);
  c.invalidateKey('key_9');
  assert.equal(c.epoch, epoch + 3, 'every invalidation counts, even of a key not cached');
});

test('invalidating one secret of a rotated key keeps the other; a reloaded secret replaces its entry', () => {
  const { c, clock } = cache();
  const old = aKey();
  const current = aKey();
  c.set(old.hash, entry('key_1', clock.t));
  c.set(current.hash, entry('key_1', clock.t));
  c.invalidateHash(old.hash);
  assert.equal(c.get(old.hash), undefined);
  assert.notEqual(c.get(current.hash), undefined);
  const reloaded = entry('key_1', clock.t + 5);
  c.set(current.hash, reloaded);
  assert.equal(c.get(current.hash), reloaded);
  assert.equal(c.size, 1);
  c.invalidateKey('key_1');
  assert.equal(c.size, 0);
  c.invalidateHash('not a hash'); // nothing cached under it; still an invalidation
});

test('invalidateHash drops a negative entry; clear drops everything and bumps the epoch', () => {
  const { c, clock } = cache();
  const unknown = aKey();
  const known = aKey();
  c.set(unknown.hash, UNKNOWN);
  c.set(known.hash, entry('key_1', clock.t));
  c.invalidateHash(unknown.hash);
  assert.equal(c.get(unknown.hash), undefined);
  c.set(unknown.hash, UNKNOWN);
  const epoch = c.epoch;
  c.clear();
  assert.equal(c.epoch, epoch + 1);
  assert.equal(c.size, 0);
  assert.equal(c.get(known.hash), undefined);
  assert.equal(c.get(unknown.hash), undefined);
  c.invalidateKey('key_1');
  c.set(known.hash, entry('key_1', clock.t));
  assert.equal(c.size, 1, 'usable after clear');
});

test('expireAll: every entry is re-read before it is trusted, yet kept as the last known state', () => {
  const { c, clock } = cache();
  const k = aKey();
  const unknown = aKey();
  const e = entry('key_1', clock.t);
  c.set(k.hash, e);
  c.set(unknown.hash, UNKNOWN);
  const epoch = c.epoch;
  clock.t += 5;
  c.expireAll(clock.t);
  assert.ok(c.epoch > epoch, 'a load in flight does not cache what it read before');
  assert.equal(c.lookup(k.digest, clock.t), undefined, 'within its TTL, but expired');
  assert.equal(c.lastKnown(k.digest), e, 'kept for a storage outage');
  assert.equal(c.lookup(unknown.digest, clock.t), undefined, 'negative entries are dropped');
  // Read again after the reset: trusted again.
  const fresh = entry('key_1', clock.t + 1);
  c.set(k.hash, fresh);
  assert.equal(c.lookup(k.digest, clock.t + 1), fresh);
  // An invalidation still drops the last known state too.
  c.invalidateKey('key_1');
  assert.equal(c.lastKnown(k.digest), undefined);
});
