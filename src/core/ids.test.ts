import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { idAt, idBound, newId } from './ids.js';

describe('ids', () => {
  test('ids of one millisecond keep its time part and increase strictly (carries included)', () => {
    const ms = Date.parse('2026-06-01T00:00:00.000Z');
    const ids = Array.from({ length: 20_000 }, () => newId('vl', ms));
    const time = ids[0]?.slice(0, 10) ?? '';
    assert.match(time, /^vl_[0-9A-Za-z]{7}$/);
    let carries = 0;
    for (let i = 1; i < ids.length; i++) {
      const [a = '', b = ''] = [ids[i - 1], ids[i]];
      assert.ok(a < b, `${a} < ${b}`);
      assert.equal(b.length, a.length);
      assert.equal(b.slice(0, 10), time);
      if (a.endsWith('z')) {
        carries++;
        assert.ok(b.endsWith('0'), 'z carries to 0');
      }
    }
    // About one in 62: the carry path ran.
    assert.ok(carries > 100, `${carries} carries`);
  });

  test('a clock that goes back does not make an id sort before the last one', () => {
    const ms = Date.parse('2026-06-02T00:00:00.000Z');
    const a = newId('key', ms);
    const b = newId('key', ms - 5000);
    assert.ok(a < b);
  });

  test('idAt keeps the time it is given; idBound(t) sorts after every id of an earlier time and before every id of t or later', () => {
    const base = Date.parse('2026-06-01T00:00:00.000Z');
    const unit = (n: number): number => (n === 0 ? 1 : n === 1 ? 60_000 : 86_400_000);
    let x = 11;
    for (let i = 0; i < 5000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      // Times around one point: equal, a millisecond apart, a minute, days.
      const a = base + (x % 3 === 0 ? 0 : (x % 7) * unit(x % 3));
      const b = base + ((x >> 3) % 5) * unit((x >> 5) % 3);
      const [id, bound] = [idAt('vl', a), idBound('vl', b)];
      assert.equal(id.slice(0, 10), idBound('vl', a));
      assert.equal(id < bound, a < b, `${id} vs ${bound} (${a} vs ${b})`);
      const [x1, x2] = [idAt('vl', a), idAt('vl', a)];
      assert.ok(x1 < x2, 'ids of one millisecond made in a row increase');
    }
    // Before the epoch's ids: bounds of far times stay ordered and 7 characters long.
    assert.ok(idBound('vl', 0) < idBound('vl', base) && idBound('vl', base) < idBound('vl', 3e12));
    // Past 2081 (62^7 ms) a bound stays above every id instead of wrapping below today's.
    assert.ok(idBound('vl', Date.parse('2100-01-01T00:00:00Z')) > idAt('vl', base));
    assert.ok(idBound('vl', 8e15) > idAt('vl', 62 ** 7 - 1));
  });
});
