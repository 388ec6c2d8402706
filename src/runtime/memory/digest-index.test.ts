import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { DigestIndex } from './digest-index.js';

/** A digest (32 one-byte characters) whose first 4 bytes are `head` (little-endian) and whose rest depends on `tail`. */
function digest(head: number, tail = 0): string {
  const b = Buffer.alloc(32);
  b.writeInt32LE(head | 0, 0);
  createHash('sha256').update(String(tail)).digest().copy(b, 4, 0, 28);
  return b.toString('latin1');
}

test('digests whose first 4 bytes are equal, or land on the same slot, are told apart', () => {
  // Room for 4 entries: 8 slots, so heads 1, 9 and 17 share home slot 1.
  const ix = new DigestIndex(4, 4);
  const same1 = digest(1, 1);
  const same2 = digest(1, 2); // identical first 4 bytes, different digest
  const slot9 = digest(9, 3);
  const slot17 = digest(17, 4);
  const all = [same1, same2, slot9, slot17];
  const numbers = all.map((d) => ix.insert(d));
  assert.equal(new Set(numbers).size, 4);
  all.forEach((d, i) => {
    assert.equal(ix.find(d), numbers[i]);
  });
  assert.equal(ix.find(digest(1, 5)), -1, 'same first 4 bytes, not inserted');
  assert.equal(ix.find(digest(25, 6)), -1, 'same home slot, not inserted');
  assert.equal(ix.size, 4);
});

test('backward-shift deletion keeps every entry reachable, across the end of the table too', () => {
  // 8 slots. Homes 7, 7, 0, 7: the run wraps around from slot 7 to slots 0–2.
  const ix = new DigestIndex(4, 4);
  const a = digest(7, 1);
  const b = digest(15, 2);
  const c = digest(8, 3); // home 0, pushed to slot 1 by b
  const d = digest(23, 4);
  const ea = ix.insert(a);
  const eb = ix.insert(b);
  const ec = ix.insert(c);
  const ed = ix.insert(d);
  ix.remove(ea);
  assert.equal(ix.find(a), -1);
  assert.deepEqual([ix.find(b), ix.find(c), ix.find(d)], [eb, ec, ed]);
  ix.remove(ec);
  assert.deepEqual([ix.find(b), ix.find(c), ix.find(d)], [eb, -1, ed]);
  ix.remove(eb);
  assert.equal(ix.find(d), ed);
  assert.equal(ix.size, 1);
  ix.remove(ed);
  ix.remove(ed); // a free number: nothing happens
  assert.equal(ix.size, 0);
});

test('an entry whose home is after the hole does not move into it', () => {
  // Slots 2, 3 hold homes 2, 2; slots 4, 5 hold homes 4, 4. Removing slot 2's entry moves the
  // second home-2 entry back, and must leave the home-4 entries where they are reachable.
  const ix = new DigestIndex(4, 4);
  const x = ix.insert(digest(2, 1));
  const y = ix.insert(digest(10, 2));
  const w = ix.insert(digest(4, 3));
  const v = ix.insert(digest(12, 4));
  ix.remove(x);
  assert.deepEqual(
    [digest(10, 2), digest(4, 3), digest(12, 4)].map((d) => ix.find(d)),
    [y, w, v],
  );
});

test('random inserts and removals in a crowded table agree with a Map', () => {
  let seed = 42;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  // 16 distinct heads over a 64-slot table (room 32): long runs, wrap-arounds, equal heads.
  const ix = new DigestIndex(32, 32);
  const model = new Map<string, number>();
  const pool = Array.from({ length: 48 }, (_, i) => digest(rand(16) * 4 + (i % 2 === 0 ? 60 : 0), i));
  for (let step = 0; step < 5000; step++) {
    const d = pool[rand(pool.length)] ?? '';
    if (model.has(d)) {
      ix.remove(model.get(d) ?? -1);
      model.delete(d);
    } else if (model.size < 32) {
      model.set(d, ix.insert(d));
    }
    for (const p of pool) assert.equal(ix.peek(p), model.get(p) ?? -1, `step ${step}`);
    assert.equal(ix.size, model.size);
  }
});

test('the table grows from its initial room up to the capacity, keeping every entry', () => {
  const ix = new DigestIndex(1000, 2);
  const ds = Array.from({ length: 1000 }, (_, i) => digest(i * 7919, i));
  const numbers = ds.map((d) => ix.insert(d));
  assert.deepEqual(
    ds.map((d) => ix.find(d)),
    numbers,
  );
  assert.throws(() => ix.insert(digest(-1, -1)), RangeError, 'full: the caller evicts first');
});

test('eviction is CLOCK: an entry used since the hand passed survives, an unused one goes first', () => {
  const ix = new DigestIndex(3, 3);
  const [a, b, c, d, e] = [1, 2, 3, 4, 5].map((i) => digest(i, i)) as [
    string,
    string,
    string,
    string,
    string,
  ];
  const ea = ix.insert(a);
  const eb = ix.insert(b);
  const ec = ix.insert(c);
  ix.find(a); // a is used; b and c are not
  assert.equal(ix.evict(), eb, 'a had its second chance, b had none');
  assert.equal(ix.find(b), -1);
  ix.insert(d); // takes b's number, behind the hand
  assert.equal(ix.evict(), ec);
  ix.insert(e);
  ix.find(d);
  ix.find(e);
  // a's bit was cleared when the hand passed it; d and e have been used since.
  assert.equal(ix.evict(), ea);
  assert.equal(ix.find(a), -1);
  assert.equal(ix.size, 2);
  // Every remaining entry used: one full turn clears the bits, then the first is evicted.
  const left = [ix.peek(d), ix.peek(e)];
  assert.ok(left.includes(ix.evict()));
  assert.equal(ix.size, 1);
});

test('peek does not count as a use', () => {
  const ix = new DigestIndex(2, 2);
  const ea = ix.insert(digest(1, 1));
  ix.insert(digest(2, 2));
  ix.peek(digest(1, 1));
  assert.equal(ix.evict(), ea);
});

test('clear forgets everything and the index is usable again; bad input is refused', () => {
  const ix = new DigestIndex(10, 2);
  for (let i = 0; i < 10; i++) ix.insert(digest(i, i));
  ix.clear();
  assert.equal(ix.size, 0);
  assert.equal(ix.find(digest(3, 3)), -1);
  assert.equal(ix.insert(digest(3, 3)), 0, 'numbering starts over');
  assert.equal(ix.find(digest(3, 3)), 0);
  assert.equal(ix.find('short'), -1);
  assert.throws(() => ix.insert('short'), TypeError);
  assert.throws(() => new DigestIndex(0), RangeError);
  assert.throws(() => new DigestIndex(2, 2).evict(), RangeError);
});
