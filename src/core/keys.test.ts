import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BODY_LENGTH,
  checksum,
  createHasher,
  generateKey,
  holdsKey,
  malformedReason,
  maskParts,
  parseKey,
  randomBase62,
  withoutKeys,
} from './keys.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

test('generated keys have the SPEC format and parse back', () => {
  for (const env of ['prod', 'stg', 'dev', 'adm'] as const) {
    const key = generateKey('kw', env);
    assert.match(key, new RegExp(`^kw_${env}_[0-9A-Za-z]{${BODY_LENGTH + 6}}$`));
    const kind = { prod: 'production', stg: 'staging', dev: 'development', adm: 'admin' }[env];
    assert.deepEqual(parseKey(key, 'kw'), { prefix: 'kw', kind });
  }
});

test('the body carries at least 178 bits', () => {
  assert.ok(BODY_LENGTH * Math.log2(62) >= 178);
});

test('checksum rejects every single-character substitution of a key', () => {
  const key = generateKey('kw', 'prod');
  let tried = 0;
  for (let i = 0; i < key.length; i++) {
    for (const c of `${BASE62}_`) {
      if (c === key[i]) continue;
      const typo = key.slice(0, i) + c + key.slice(i + 1);
      tried++;
      assert.equal(parseKey(typo, 'kw'), null, `typo at ${i} (${c}) accepted`);
    }
  }
  assert.ok(tried > 2000);
});

test('checksum rejects deletions, insertions and adjacent swaps', () => {
  const key = generateKey('kw', 'dev');
  for (let i = 0; i < key.length; i++) {
    assert.equal(parseKey(key.slice(0, i) + key.slice(i + 1), 'kw'), null);
    assert.equal(parseKey(key.slice(0, i) + 'x' + key.slice(i), 'kw'), null);
    if (i + 1 < key.length && key[i] !== key[i + 1]) {
      assert.equal(
        parseKey(key.slice(0, i) + key.charAt(i + 1) + key.charAt(i) + key.slice(i + 2), 'kw'),
        null,
      );
    }
  }
});

test('parseKey rejects other prefixes, unknown environments, non-base62 and oversize input', () => {
  const key = generateKey('acme', 'prod');
  assert.equal(parseKey(key, 'kw'), null);
  assert.notEqual(parseKey(key, 'acme'), null);
  const head = `kw_live_${randomBase62(BODY_LENGTH)}`;
  assert.equal(parseKey(head + checksum(head), 'kw'), null);
  const bad = `kw_prod_${randomBase62(BODY_LENGTH - 1)}é`;
  assert.equal(parseKey(bad + checksum(bad), 'kw'), null);
  assert.equal(parseKey('', 'kw'), null);
  assert.equal(parseKey('kw_prod_', 'kw'), null);
  assert.equal(parseKey('x'.repeat(10_000), 'kw'), null);
  const short = `kw_prod_${randomBase62(10)}`;
  assert.equal(parseKey(short + checksum(short), 'kw'), null);
});

test('maskParts keeps prefix, env and 4 body characters, and the last 4', () => {
  const key = generateKey('kw', 'prod');
  const { start, end } = maskParts(key);
  assert.equal(start, key.slice(0, 'kw_prod_'.length + 4));
  assert.equal(end, key.slice(-4));
});

test('hashing: deterministic, distinct per key, and peppered hashes differ', () => {
  const key = generateKey('kw', 'prod');
  const plain = createHasher();
  const peppered = createHasher('a-server-side-pepper');
  assert.equal(plain(key), plain(key));
  assert.notEqual(plain(key), plain(generateKey('kw', 'prod')));
  assert.notEqual(plain(key), peppered(key));
  assert.ok(!plain(key).includes(key));
});

test('randomBase62 is roughly uniform (no modulo bias towards the first characters)', () => {
  const counts = new Map<string, number>();
  const s = randomBase62(62 * 2000);
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  assert.equal(counts.size, 62);
  for (const n of counts.values()) assert.ok(n > 1600 && n < 2400, `count ${n} outside 2000±400`);
});

test("parseKey's in-place CRC-32 agrees with zlib's for every prefix length, environment and body length", () => {
  // checksum() uses zlib's crc32: it is the oracle for the allocation-free check in parseKey.
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    const prefix = randomBase62(1 + (i % 10))
      .toLowerCase()
      .replace(/[^a-z0-9]/g, 'k');
    const env = (['prod', 'stg', 'dev', 'adm'] as const)[i % 4] ?? 'prod';
    const head = `${prefix}_${env}_${randomBase62(BODY_LENGTH + (i % 7))}`;
    const right = head + checksum(head);
    assert.notEqual(parseKey(right, prefix), null, right);
    accepted++;
    // The same key with its last checksum digit moved by one is refused.
    const last = right.charAt(right.length - 1);
    const moved = BASE62.charAt((BASE62.indexOf(last) + 1) % 62);
    assert.equal(parseKey(right.slice(0, -1) + moved, prefix), null);
  }
  assert.equal(accepted, 3000);
});

test('parseKey checks every body character whatever the body length (four at a time, then the rest)', () => {
  for (let extra = 0; extra <= 90; extra += 1) {
    const head = `kw_dev_${randomBase62(BODY_LENGTH + extra)}`;
    const key = head + checksum(head);
    assert.notEqual(parseKey(key, 'kw'), null, key);
    // A character outside base62 (ASCII or not) anywhere after the environment is refused, even
    // where its low byte is a base62 character ('ŧ' is U+0167: low byte 'g').
    for (const bad of ['-', 'ŧ']) {
      for (let i = 'kw_dev_'.length; i < key.length; i += 1 + (extra % 5)) {
        assert.equal(parseKey(key.slice(0, i) + bad + key.slice(i + 1), 'kw'), null, `${bad} at ${i}`);
      }
    }
  }
});

test('malformedReason says why a key was refused, never echoing it', () => {
  const good = generateKey('kw', 'prod');
  const admin = generateKey('kw', 'adm');
  const flip = good.slice(0, -1) + (good.endsWith('a') ? 'b' : 'a');
  const cases: [string, RegExp][] = [
    ['', /empty/],
    [admin, /admin key/],
    [` ${good}`, /whitespace/],
    [`${good}\n`, /whitespace/],
    [`Bearer ${good}`, /starts with "Bearer "/],
    [generateKey('acme', 'prod'), /this deployment's prefix \(kw_\)/],
    ['kw_live_abc', /unknown environment segment/],
    [good.slice(0, 20), /too short \(20 characters; a prod key has 44\)/],
    [good.slice(0, -2) + '-!', /outside the base62 alphabet/],
    [flip, /checksum does not match/],
    ['hello', /does not have the form kw_<env>_<secret>/],
    ['x'.repeat(600), /longer than 512/],
  ];
  for (const [key, why] of cases) {
    const reason = malformedReason(key, 'kw');
    assert.match(reason, why, JSON.stringify(key));
    if (key.length > 12) assert.ok(!reason.includes(key.trim().slice(8, 20)), 'no part of the secret');
  }
});

test('withoutKeys cuts every key-shaped string to its public start; holdsKey finds them', () => {
  const api = generateKey('kw', 'prod');
  const adm = generateKey('acme1', 'adm');
  const text = `no key with id ${api}; and /v1/keys/${adm}/usage, "${api.slice(0, -6)}"`;
  const out = withoutKeys(text);
  assert.equal(
    out,
    `no key with id ${api.slice(0, 12)}…; and /v1/keys/${adm.slice(0, 14)}…/usage, "${api.slice(0, 12)}…"`,
  );
  for (const k of [api, adm]) assert.ok(!out.includes(k.slice(12, -4)));
  assert.equal(holdsKey(text), true);
  assert.equal(holdsKey(api), true);
  assert.equal(holdsKey(api), true, 'no state left between calls (a global regex)');
  // After an underscore, and cut short: still cut (a truncated key keeps none of its secret).
  assert.equal(withoutKeys(`tenant_${api}`), `tenant_${api.slice(0, 12)}…`);
  assert.equal(withoutKeys(api.slice(0, 18)), `${api.slice(0, 12)}…`);
  assert.equal(holdsKey(`tenant_${api}`), true);
  // holdsKey is strict: a whole key with its checksum, so look-alike ids are not refused.
  const broken = `${api.slice(0, -1)}${api.endsWith('0') ? '1' : '0'}`;
  assert.equal(holdsKey(broken), false, 'a wrong checksum');
  assert.equal(holdsKey(`${api}x`), false, 'longer than a key');
  for (const id of ['db_prod_clusterAlpha01234567', 'build_dev_17180000001234567890', api.slice(0, -6)])
    assert.equal(holdsKey(id), false, id);
  // What is not a key stays as it is: ids, permissions, short values with a key's segments.
  for (const plain of [
    'key_3x9Vbi8rJ8Y7hwhLTXGJ2b',
    'agents:invoke:agent_7',
    'kw_prod_4fTq',
    'kw_live_' + 'a'.repeat(30),
  ]) {
    assert.equal(withoutKeys(plain), plain);
    assert.equal(holdsKey(plain), false);
  }
});
