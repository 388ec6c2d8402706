import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newId } from './ids.js';

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
});
