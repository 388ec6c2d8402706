import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { describeEachDialect } from '../testing/harness.js';
import {
  activeSubscriptions,
  deleteWebhook,
  dueDeliveries,
  insertDeliveries,
  insertWebhook,
  listActiveWebhooks,
  listDeliveries,
  recordAttempt,
  takeEventMark,
  webhookTeam,
} from './webhooks-repo.js';

const T0 = '2026-06-01T00:00:00.000Z';
const hook = (id: string, team: string | null) => ({
  id,
  url: `https://${id}.example/hook`,
  description: null,
  events: '["key.disabled"]',
  secret: `sealed-${id}`,
  status: 'active',
  created_at: T0,
  created_by: null,
  team,
});
const delivery = (id: string, webhookId: string, nextAt: string) => ({
  id,
  webhook_id: webhookId,
  event: 'key.disabled',
  payload: '{}',
  status: 'pending',
  attempts: 0,
  next_attempt_at: nextAt,
  last_status_code: null,
  last_error: null,
  created_at: T0,
  delivered_at: null,
});

describeEachDialect('webhooks repository', (t) => {
  before(async () => {
    const { db } = t.kw.storage;
    await insertWebhook(db, hook('whk_a', null));
    await insertWebhook(db, hook('whk_b', 'red'));
    await insertWebhook(db, hook('whk_c', 'blue'));
  });

  test('lists active webhooks newest first, a team only its own; subscriptions carry events and team', async () => {
    const { db } = t.kw.storage;
    assert.deepEqual(
      (await listActiveWebhooks(db, null)).map((r) => r.id),
      ['whk_c', 'whk_b', 'whk_a'],
    );
    assert.deepEqual(
      (await listActiveWebhooks(db, 'red')).map((r) => r.id),
      ['whk_b'],
    );
    const subs = await activeSubscriptions(db);
    assert.deepEqual(
      subs.find((s) => s.id === 'whk_b'),
      { id: 'whk_b', events: '["key.disabled"]', team: 'red' },
    );
    assert.equal(await webhookTeam(db, 'whk_c'), 'blue');
    assert.equal(await webhookTeam(db, 'whk_none'), undefined);
  });

  test('deletes only an active webhook of the given team, once', async () => {
    const { db } = t.kw.storage;
    await insertWebhook(db, hook('whk_d', 'red'));
    assert.equal(await deleteWebhook(db, 'whk_d', 'blue'), false, 'another team');
    assert.equal(await deleteWebhook(db, 'whk_d', 'red'), true);
    assert.equal(await deleteWebhook(db, 'whk_d', null), false, 'already deleted');
    assert.ok(!(await listActiveWebhooks(db, null)).some((r) => r.id === 'whk_d'));
    assert.equal(await webhookTeam(db, 'whk_d'), 'red', 'the team of a deleted webhook is still known');
  });

  test('due deliveries join their webhook; an attempt is recorded; pages go below the cursor', async () => {
    const { db } = t.kw.storage;
    await insertDeliveries(db, []);
    await insertDeliveries(db, [
      delivery('dlv_1', 'whk_a', T0),
      delivery('dlv_2', 'whk_a', '2026-06-01T00:00:05.000Z'),
      delivery('dlv_3', 'whk_b', T0),
    ]);
    const due = await dueDeliveries(db, T0, 100);
    assert.deepEqual(
      due.map((d) => [d.id, d.webhook_id, d.url, d.secret]),
      [
        ['dlv_1', 'whk_a', 'https://whk_a.example/hook', 'sealed-whk_a'],
        ['dlv_3', 'whk_b', 'https://whk_b.example/hook', 'sealed-whk_b'],
      ],
    );
    assert.equal((await dueDeliveries(db, T0, 1)).length, 1, 'the limit holds');
    await recordAttempt(db, 'dlv_1', {
      status: 'succeeded',
      attempts: 1,
      last_status_code: 200,
      last_error: null,
      delivered_at: T0,
      next_attempt_at: T0,
    });
    assert.deepEqual(
      (await dueDeliveries(db, T0, 100)).map((d) => d.id),
      ['dlv_3'],
    );
    const page = await listDeliveries(db, 'whk_a', 10);
    assert.deepEqual(
      page.map((d) => [d.id, d.status, d.attempts, d.last_status_code]),
      [
        ['dlv_2', 'pending', 0, null],
        ['dlv_1', 'succeeded', 1, 200],
      ],
    );
    assert.deepEqual(
      (await listDeliveries(db, 'whk_a', 10, 'dlv_2')).map((d) => d.id),
      ['dlv_1'],
    );
    assert.equal((await listDeliveries(db, 'whk_a', 1)).length, 1);
  });

  test('an event mark is taken once', async () => {
    const { db } = t.kw.storage;
    assert.equal(await takeEventMark(db, 'm:1', T0), true);
    assert.equal(await takeEventMark(db, 'm:1', T0), false);
    assert.equal(await takeEventMark(db, 'm:2', T0), true);
  });
});
