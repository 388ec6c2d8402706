import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  DIALECTS,
  ManualClock,
  call,
  createKey,
  startServer,
  verify,
  type TestServer,
} from '../testing/harness.js';

const DAY = 86_400_000;
type Audit = { action: string; target: string; actor: string };

for (const dialect of DIALECTS) {
  describe(`narrowing safely (${dialect.name})`, () => {
    let t: TestServer;
    const clock = new ManualClock(Date.parse('2026-06-01T09:00:00.000Z'));
    let events: { event: string; data: Record<string, unknown> }[] = [];
    before(async () => {
      t = await startServer(dialect, {
        clock,
        env: { KEYWARDEN_USAGE_FLUSH_MS: '100', KEYWARDEN_USAGE_FLUSH_MAX_MS: '100' },
      });
      // The owner is told through the event sink (webhooks and mail): watch what it is given.
      const sink = t.kw.services.ctx.events;
      const emit = sink.emit.bind(sink);
      sink.emit = (event, data) => {
        events.push({ event, data });
        emit(event, data);
      };
    });
    after(async () => t.close());
    const flush = () => t.kw.services.ctx.usage.flush();
    const expires = () => new Date(clock.now() + 200 * DAY).toISOString();
    const audits = async (id: string): Promise<string[]> =>
      ((await call(t, 'GET', `/v1/audit?target=${id}`)).body.items as Audit[]).map((a) => a.action).reverse();

    test('new permissions end a running narrowing: a later autoApply cannot grant what was removed', async () => {
      const k = await createKey(t, { permissions: ['agents:invoke', 'billing:read'], expiresAt: expires() });
      await call(t, 'POST', `/v1/keys/${k.id}/narrowing`, {
        permissions: ['billing:read'],
        days: 1,
        autoApply: true,
      });
      assert.equal(
        (await call(t, 'PATCH', `/v1/keys/${k.id}`, { permissions: ['agents:invoke'] })).status,
        200,
      );
      assert.equal((await call(t, 'GET', `/v1/keys/${k.id}/narrowing`)).status, 404);
      assert.equal(
        (await verify(t, { key: k.key, permission: 'billing:read' })).code,
        'INSUFFICIENT_PERMISSIONS',
      );
    });

    test('422 unless a strict subset of the effective permissions; 404 outside the team', async () => {
      const k = await createKey(t, {
        permissions: ['agents:invoke', 'agents:list', 'billing:read'],
        expiresAt: expires(),
      });
      const bad = async (permissions: string[]) =>
        call(t, 'POST', `/v1/keys/${k.id}/narrowing`, { permissions, days: 7 });
      let r = await bad(['billing:write']);
      assert.equal(r.status, 422, r.raw);
      assert.match(String(r.body.detail), /billing:write is not granted/);
      r = await bad(['agents:invoke', 'agents:list', 'billing:read']);
      assert.equal(r.status, 422, r.raw);
      assert.match(String(r.body.detail), /nothing would be narrowed/);
      r = await bad(['*']);
      assert.equal(r.status, 422);
      assert.equal((await bad(['not a permission'])).status, 400);
      assert.equal(
        (await call(t, 'POST', `/v1/keys/${k.id}/narrowing`, { permissions: ['agents:invoke'], days: 0 }))
          .status,
        400,
      );
      assert.equal((await call(t, 'GET', `/v1/keys/${k.id}/narrowing`)).status, 404);
      // agents:invoke:agt_1 is covered by agents:invoke; a team-scoped admin of another team sees no key.
      const other = await call(t, 'POST', '/v1/admin-keys', {
        name: 'ops-admins',
        permissions: ['keys:read', 'keys:write'],
        team: 'ops',
      });
      const opsKey = other.body.key as string;
      r = await call(
        t,
        'POST',
        `/v1/keys/${k.id}/narrowing`,
        { permissions: ['agents:invoke:agt_1'], days: 7 },
        opsKey,
      );
      assert.equal(r.status, 404, r.raw);
      assert.equal((await bad(['agents:invoke:agt_1'])).status, 201);
      assert.equal((await call(t, 'GET', `/v1/keys/${k.id}/narrowing`, undefined, opsKey)).status, 404);
      assert.equal((await call(t, 'DELETE', `/v1/keys/${k.id}/narrowing`, undefined, opsKey)).status, 404);
      assert.equal((await bad(['agents:invoke:agt_2'])).status, 409, 'one period at a time');
      assert.equal((await call(t, 'DELETE', `/v1/keys/${k.id}/narrowing`)).status, 204);
      assert.equal((await call(t, 'DELETE', `/v1/keys/${k.id}/narrowing`)).status, 404);
      assert.deepEqual(await audits(k.id), ['key.create', 'key.narrowing.start', 'key.narrowing.cancel']);
    });

    test('shadow decisions are logged and counted; nothing refused → ready, then applied with autoApply', async () => {
      const k = await createKey(t, {
        permissions: ['agents:invoke', 'billing:read'],
        expiresAt: expires(),
      });
      const s = await call(t, 'POST', `/v1/keys/${k.id}/narrowing`, {
        permissions: ['agents:invoke'],
        days: 3,
      });
      assert.equal(s.status, 201, s.raw);
      assert.equal(s.body.state, 'shadow');
      assert.equal(s.body.endsAt, new Date(clock.now() + 3 * DAY).toISOString());
      // Allowed by both sets: no shadow row; allowed only by the key's own: answered VALID, shadow row.
      assert.equal((await verify(t, { key: k.key, permission: 'agents:invoke' })).code, 'VALID');
      const wide = await verify(t, { key: k.key, permission: 'billing:read', ip: '10.0.0.7' });
      assert.equal(wide.code, 'VALID', 'the key is not narrowed during the shadow period');
      await verify(t, { key: k.key, permission: 'billing:read', ip: '10.0.0.7' });
      await flush();
      let g = await call(t, 'GET', `/v1/keys/${k.id}/narrowing`);
      assert.equal(g.status, 200, g.raw);
      assert.equal(g.body.wouldHaveRefused, 2);
      const ex = (g.body.examples as Record<string, unknown>[])[0];
      assert.deepEqual([ex?.permission, ex?.ip, ex?.count], ['billing:read', '10.0.0.7', 2]);
      const logs = (await call(t, 'GET', `/v1/logs?keyId=${k.id}`)).body.items as Record<string, unknown>[];
      const shadow = logs.filter((l) => l.shadow === true);
      assert.deepEqual(
        shadow.map((l) => [l.code, l.count]),
        [['INSUFFICIENT_PERMISSIONS', 2]],
      );
      assert.equal(
        logs.filter((l) => l.shadow === false && l.code === 'VALID').reduce((n, l) => n + Number(l.count), 0),
        3,
      );
      // The `shadow` filter: only the would-have-refused rows, only real calls, or (absent) both.
      const only = async (shadow: string) => {
        const r = await call(t, 'GET', `/v1/logs?keyId=${k.id}&shadow=${shadow}`);
        assert.equal(r.status, 200, r.raw);
        return (r.body.items as Record<string, unknown>[]).map((l) => [l.shadow, l.code, l.count]);
      };
      assert.deepEqual(await only('true'), [[true, 'INSUFFICIENT_PERMISSIONS', 2]]);
      assert.deepEqual(
        (await only('false')).sort(),
        logs
          .filter((l) => l.shadow === false)
          .map((l) => [false, l.code, l.count])
          .sort(),
      );
      assert.equal((await only('false')).length, logs.length - 1);
      // Nor are they usage: the key's counts are its real calls only.
      const usage = await call(t, 'GET', `/v1/keys/${k.id}/usage`);
      assert.deepEqual(usage.body.totals, { VALID: 3 });
      const bad = await call(t, 'GET', `/v1/logs?shadow=maybe`);
      assert.equal(bad.status, 400);
      assert.match(String(bad.body.detail), /shadow/);
      // Refused: a second key whose period sees only what the narrower set allows.
      const clean = await createKey(t, {
        permissions: ['agents:invoke', 'billing:read'],
        expiresAt: expires(),
      });
      await call(t, 'POST', `/v1/keys/${clean.id}/narrowing`, { permissions: ['agents:invoke'], days: 3 });
      const auto = await createKey(t, {
        permissions: ['agents:invoke', 'billing:read'],
        expiresAt: expires(),
      });
      await call(t, 'POST', `/v1/keys/${auto.id}/narrowing`, {
        permissions: ['agents:invoke'],
        days: 3,
        autoApply: true,
      });
      await verify(t, { key: clean.key, permission: 'agents:invoke' });
      await verify(t, { key: auto.key, permission: 'agents:invoke' });
      events = [];
      await t.kw.services.narrowing.finishDue();
      assert.equal((await call(t, 'GET', `/v1/keys/${k.id}/narrowing`)).body.state, 'shadow', 'not over yet');
      clock.advance((3 * DAY + 60_000) / 1000);
      // After the end the narrower set is no longer decided against.
      await verify(t, { key: k.key, permission: 'billing:read' });
      assert.equal(await t.kw.services.narrowing.finishDue(), 3);
      assert.equal(await t.kw.services.narrowing.finishDue(), 0, 'each period ends once');
      g = await call(t, 'GET', `/v1/keys/${k.id}/narrowing`);
      assert.deepEqual([g.body.state, g.body.refused, g.body.wouldHaveRefused], ['refused', 2, 2]);
      const told = events.filter((e) => e.event === 'key.narrowing_refused');
      assert.deepEqual(
        told.map((e) => [e.data.keyId, e.data.wouldHaveRefused]),
        [[k.id, 2]],
      );
      assert.equal(
        (await call(t, 'GET', `/v1/keys/${k.id}`)).body.permissions?.toString(),
        'agents:invoke,billing:read',
      );
      // Ready, listed in the report; the auto-applied key has the narrower set, audited key.narrow.
      assert.equal((await call(t, 'GET', `/v1/keys/${clean.id}/narrowing`)).body.state, 'ready');
      const report = (await call(t, 'GET', '/v1/reports/governance')).body;
      const ready = (report.narrowingReady as { keyId: string; narrowerPermissions: string[] }[]).map((f) => [
        f.keyId,
        f.narrowerPermissions,
      ]);
      assert.deepEqual(ready, [[clean.id, ['agents:invoke']]]);
      const applied = await call(t, 'GET', `/v1/keys/${auto.id}`);
      assert.deepEqual(applied.body.permissions, ['agents:invoke']);
      assert.equal((await call(t, 'GET', `/v1/keys/${auto.id}/narrowing`)).status, 404);
      assert.deepEqual(await audits(auto.id), ['key.create', 'key.narrowing.start', 'key.narrow']);
      // Applying a ready narrowing by hand (new permissions) ends it.
      assert.equal(
        (await call(t, 'PATCH', `/v1/keys/${clean.id}`, { permissions: ['agents:invoke'] })).status,
        200,
      );
      assert.equal((await call(t, 'GET', `/v1/keys/${clean.id}/narrowing`)).status, 404);
      // The narrowed key now refuses what it no longer has (the cache was invalidated).
      assert.equal(
        (await verify(t, { key: auto.key, permission: 'billing:read' })).code,
        'INSUFFICIENT_PERMISSIONS',
      );
    });
  });
}
