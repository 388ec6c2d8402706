import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createKey, describeEachDialect } from '../testing/harness.js';
import {
  creditedKeys,
  expiringKeys,
  getKeyRow,
  liveKeyRows,
  patchToChanges,
  refillableKeys,
  refillKey,
  updateKey,
} from './keys-repo.js';

const owner = { team: 'crm', contact: 'a@example.com' };
// Keys are created through the API, which refuses past expiries: times relative to the real clock.
const NOW = Date.now();
const iso = (days: number): string => new Date(NOW + days * 86_400_000).toISOString();

describe('patchToChanges', () => {
  test('writes only what the patch names, the merged owner when it names owner', () => {
    assert.deepEqual(patchToChanges({ name: 'n' }, owner), { name: 'n' });
    assert.deepEqual(patchToChanges({ owner: { contact: 'a@example.com' } }, owner), {
      owner_team: 'crm',
      owner_contact: 'a@example.com',
    });
    assert.deepEqual(patchToChanges({ owner: null }, { team: null, contact: null }), {
      owner_team: null,
      owner_contact: null,
    });
    assert.deepEqual(
      patchToChanges(
        {
          system: 's',
          purpose: 'p',
          customerId: null,
          permissions: ['a:b'],
          ratelimits: [],
          credits: { remaining: 3, refill: { amount: 5, interval: 'daily' } },
          ipAllowlist: ['10.0.0.0/8'],
          expiresAt: null,
          metadata: { x: 1 },
        },
        owner,
      ),
      {
        system: 's',
        purpose: 'p',
        customer_id: null,
        permissions: '["a:b"]',
        ratelimits: '[]',
        credits_remaining: 3,
        credits_refill: '{"amount":5,"interval":"daily"}',
        ip_allowlist: '["10.0.0.0/8"]',
        expires_at: null,
        metadata: '{"x":1}',
      },
    );
    assert.deepEqual(patchToChanges({ credits: null }, owner), {
      credits_remaining: null,
      credits_refill: null,
    });
  });
});

describeEachDialect('keys repository: scans, refills, report rows', (t) => {
  const ids = { soon: '', later: '', credits: '', gone: '' };
  before(async () => {
    ids.soon = (await createKey(t, { expiresAt: iso(4) })).id;
    ids.later = (await createKey(t, { expiresAt: iso(90) })).id;
    ids.credits = (
      await createKey(t, {
        owner: { team: 'ops', contact: 'ops@example.com' },
        credits: { remaining: 3, refill: { amount: 50, interval: 'daily' } },
      })
    ).id;
    ids.gone = (
      await createKey(t, { credits: { remaining: 1, refill: { amount: 9, interval: 'daily' } } })
    ).id;
    const row = await getKeyRow(t.kw.storage.db, ids.gone);
    assert.ok(row);
    await updateKey(t.kw.storage.db, ids.gone, row.version, { status: 'deleted' });
  });

  test('patchToChanges columns are written by updateKey', async () => {
    const { db } = t.kw.storage;
    const row = await getKeyRow(db, ids.later);
    assert.ok(row);
    const ok = await updateKey(
      db,
      ids.later,
      row.version,
      patchToChanges(
        { owner: { team: 'ops' }, metadata: { y: 2 } },
        { team: 'ops', contact: row.owner_contact },
      ),
    );
    assert.equal(ok, true);
    const after = await getKeyRow(db, ids.later);
    assert.equal(after?.owner_team, 'ops');
    assert.equal(after?.owner_contact, row.owner_contact);
    assert.equal(after?.metadata, '{"y":2}');
  });

  test('expiringKeys: active keys expiring in (at, horizon]', async () => {
    const { db } = t.kw.storage;
    const hits = await expiringKeys(db, iso(0), iso(10));
    assert.deepEqual(
      hits.map((k) => [k.id, k.expires_at]),
      [[ids.soon, iso(4)]],
    );
    assert.deepEqual(await expiringKeys(db, iso(4), iso(10)), []);
  });

  test('creditedKeys and liveKeyRows leave deleted keys out; liveKeyRows filters by team', async () => {
    const { db } = t.kw.storage;
    assert.deepEqual(
      (await creditedKeys(db)).map((k) => [k.id, k.credits_remaining, k.owner_team]),
      [[ids.credits, 3, 'ops']],
    );
    const all = (await liveKeyRows(db, null)).map((r) => r.id);
    assert.deepEqual(all, [ids.soon, ids.later, ids.credits].sort());
    assert.deepEqual(
      (await liveKeyRows(db, 'ops')).map((r) => r.id),
      [ids.later, ids.credits].sort(),
    );
  });

  test('refillKey sets the balance once per period boundary', async () => {
    const { db } = t.kw.storage;
    assert.deepEqual(
      (await refillableKeys(db)).map((k) => [k.id, k.credits_refilled_at]),
      [[ids.credits, null]],
    );
    const boundary = iso(1);
    const v = (await getKeyRow(db, ids.credits))?.version ?? -1;
    assert.equal(await refillKey(db, ids.credits, 50, iso(1.1), boundary), true);
    assert.equal(await refillKey(db, ids.credits, 50, iso(1.2), boundary), false, 'already refilled');
    const row = await getKeyRow(db, ids.credits);
    assert.equal(row?.credits_remaining, 50);
    assert.equal(row?.credits_refilled_at, iso(1.1));
    assert.equal(row?.version, v + 1);
    assert.equal(await refillKey(db, ids.credits, 50, iso(2.1), iso(2)), true);
  });
});
