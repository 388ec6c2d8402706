import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROLE_PERMISSIONS } from '../core/members.js';
import { SESSION_COOKIE } from '../services/console-sessions.js';
import { aKey, call, describeEachDialect, type TestServer } from '../testing/harness.js';

/** A console session for a member, opened as the SSO callback opens one. */
async function memberSession(t: TestServer, email: string): Promise<Record<string, string>> {
  const m = await t.kw.services.members.byEmail(email);
  assert.ok(m !== undefined, email);
  const { token, info } = await t.kw.services.sessions.signInMember(m, '127.0.0.1', 'test');
  return { cookie: `${SESSION_COOKIE}=${token}`, 'x-csrf-token': info.csrfToken };
}

async function adminKey(t: TestServer, body: Record<string, unknown>): Promise<string> {
  const r = await call(t, 'POST', '/v1/admin-keys', body);
  assert.equal(r.status, 201, r.raw);
  return r.body.key as string;
}

describeEachDialect('members', (t) => {
  test('add, list, get, change and remove members; roles carry exactly their permissions', async () => {
    const made: Record<string, string> = {};
    for (const role of ['owner', 'admin', 'operator', 'auditor'] as const) {
      const r = await call(t, 'POST', '/v1/members', {
        email: `${role}@Example.COM`,
        name: `The ${role}`,
        role,
      });
      assert.equal(r.status, 201, r.raw);
      assert.match(String(r.body.id), /^mem_[0-9A-Za-z]{19}$/);
      assert.equal(r.body.email, `${role}@example.com`, 'emails are kept in lower case');
      assert.deepEqual(r.body.permissions, ROLE_PERMISSIONS[role]);
      assert.equal(r.body.team, null);
      made[role] = String(r.body.id);
    }
    const dup = await call(t, 'POST', '/v1/members', { email: 'OPERATOR@example.com', role: 'auditor' });
    assert.equal(dup.status, 409, dup.raw);
    assert.match(String(dup.body.detail), /already exists/);
    const list = await call(t, 'GET', '/v1/members?limit=2');
    assert.equal(list.status, 200);
    assert.equal((list.body.items as unknown[]).length, 2);
    const next = await call(t, 'GET', `/v1/members?limit=10&cursor=${String(list.body.nextCursor)}`);
    assert.ok((next.body.items as unknown[]).length >= 2);
    const got = await call(t, 'GET', `/v1/members/${made.auditor}`);
    assert.equal(got.body.role, 'auditor');
    const patched = await call(t, 'PATCH', `/v1/members/${made.auditor}`, { role: 'operator', name: null });
    assert.equal(patched.status, 200, patched.raw);
    assert.deepEqual(patched.body.permissions, ROLE_PERMISSIONS.operator);
    assert.equal(patched.body.name, null);
    const removed = await call(t, 'DELETE', `/v1/members/${made.auditor}`);
    assert.equal(removed.status, 200, removed.raw);
    assert.equal((await call(t, 'GET', `/v1/members/${made.auditor}`)).status, 404);
    // The email can be used again once its member is removed.
    const again = await call(t, 'POST', '/v1/members', { email: 'auditor@example.com', role: 'auditor' });
    assert.equal(again.status, 201, again.raw);
    const owner = await call(t, 'POST', '/v1/members', {
      email: 'o2@example.com',
      role: 'owner',
      team: 'crm',
    });
    assert.equal(owner.status, 400, owner.raw);
    assert.match(String(owner.body.detail), /owner role is global/);
    const audit = await call(t, 'GET', `/v1/audit?target=${made.auditor}`);
    assert.deepEqual(
      (audit.body.items as { action: string }[]).map((e) => e.action),
      ['member.remove', 'member.update', 'member.create'],
    );
    const root = await t.kw.services.admin.authenticate(`Bearer ${t.root}`, null);
    assert.deepEqual((audit.body.items as { actorInfo: unknown }[])[0]?.actorInfo, {
      type: 'admin_key',
      id: root.id,
      name: 'root',
    });
  });

  test('the last owner can be neither removed nor demoted', async () => {
    const a = await call(t, 'POST', '/v1/members', { email: 'first-owner@example.net', role: 'owner' });
    const owners = (await call(t, 'GET', '/v1/members?limit=500')).body.items as {
      id: string;
      role: string;
    }[];
    // Leave exactly one owner: the one made here.
    for (const o of owners.filter((m) => m.role === 'owner' && m.id !== a.body.id)) {
      assert.equal((await call(t, 'DELETE', `/v1/members/${o.id}`)).status, 200);
    }
    const del = await call(t, 'DELETE', `/v1/members/${String(a.body.id)}`);
    assert.equal(del.status, 409, del.raw);
    assert.match(String(del.body.detail), /last owner/);
    const demote = await call(t, 'PATCH', `/v1/members/${String(a.body.id)}`, { role: 'admin' });
    assert.equal(demote.status, 409, demote.raw);
    assert.equal((await call(t, 'GET', `/v1/members/${String(a.body.id)}`)).body.role, 'owner');
    const b = await call(t, 'POST', '/v1/members', { email: 'second-owner@example.net', role: 'owner' });
    assert.equal(b.status, 201);
    const now = await call(t, 'PATCH', `/v1/members/${String(a.body.id)}`, { role: 'admin' });
    assert.equal(now.status, 200, now.raw);
  });

  test('nobody grants more than they hold; team-scoped admins manage their team only', async () => {
    const manageOnly = await adminKey(t, { name: 'manage-only', permissions: ['admin:manage'] });
    const up = await call(t, 'POST', '/v1/members', { email: 'x@example.org', role: 'auditor' }, manageOnly);
    assert.equal(up.status, 403, up.raw);
    assert.match(String(up.body.detail), /cannot grant the role "auditor"/);
    const crm = await adminKey(t, {
      name: 'crm-admin',
      permissions: [
        'admin:manage',
        'keys:read',
        'keys:write',
        'keys:rotate',
        'keys:verify',
        'logs:read',
        'audit:read',
        'policy:write',
      ],
      team: 'crm',
    });
    const mine = await call(t, 'POST', '/v1/members', { email: 'crm-op@example.org', role: 'operator' }, crm);
    assert.equal(mine.status, 201, mine.raw);
    assert.equal(mine.body.team, 'crm', 'a team admin adds members to its own team');
    const admin = await call(t, 'POST', '/v1/members', { email: 'crm-ad@example.org', role: 'admin' }, crm);
    assert.equal(admin.status, 201, admin.raw);
    const other = await call(
      t,
      'POST',
      '/v1/members',
      { email: 'b@example.org', role: 'operator', team: 'billing' },
      crm,
    );
    assert.equal(other.status, 403, other.raw);
    const global = await call(
      t,
      'POST',
      '/v1/members',
      { email: 'g@example.org', role: 'operator', team: null },
      crm,
    );
    assert.equal(global.status, 403, global.raw);
    const owner = await call(
      t,
      'POST',
      '/v1/members',
      { email: 'o@example.org', role: 'owner', team: null },
      crm,
    );
    assert.equal(owner.status, 403, owner.raw);
    const billing = await call(t, 'POST', '/v1/members', {
      email: 'bill@example.org',
      role: 'auditor',
      team: 'billing',
    });
    assert.equal(billing.status, 201);
    const seen = (await call(t, 'GET', '/v1/members?limit=500', undefined, crm)).body.items as {
      team: string;
    }[];
    assert.ok(seen.length >= 2 && seen.every((m) => m.team === 'crm'), JSON.stringify(seen));
    assert.equal(
      (await call(t, 'GET', `/v1/members/${String(billing.body.id)}`, undefined, crm)).status,
      404,
    );
    assert.equal(
      (await call(t, 'DELETE', `/v1/members/${String(billing.body.id)}`, undefined, crm)).status,
      404,
    );
    const move = await call(t, 'PATCH', `/v1/members/${String(mine.body.id)}`, { team: 'billing' }, crm);
    assert.equal(move.status, 403, move.raw);
    // A member acts with its role: the crm admin (member) manages crm's operator, not more.
    const h = await memberSession(t, 'crm-ad@example.org');
    const promote = await call(t, 'PATCH', `/v1/members/${String(mine.body.id)}`, { role: 'admin' }, null, h);
    assert.equal(promote.status, 200, promote.raw);
    const tooMuch = await call(
      t,
      'POST',
      '/v1/members',
      { email: 'own@example.org', role: 'owner' },
      null,
      h,
    );
    assert.equal(tooMuch.status, 403, tooMuch.raw);
    const adminKeyByMember = await call(
      t,
      'POST',
      '/v1/admin-keys',
      { name: 'by-member', permissions: ['*'] },
      null,
      h,
    );
    assert.equal(adminKeyByMember.status, 403, adminKeyByMember.raw);
  });

  test("a member's session acts as the person, and narrows or ends at once when they are demoted or removed", async () => {
    const m = await call(t, 'POST', '/v1/members', {
      email: 'dana@example.io',
      name: 'Dana',
      role: 'operator',
    });
    assert.equal(m.status, 201, m.raw);
    const h = await memberSession(t, 'dana@example.io');
    const me = await call(t, 'GET', '/console/api/session', undefined, null, h);
    assert.equal(me.status, 200, me.raw);
    assert.deepEqual(me.body.member, {
      id: m.body.id,
      email: 'dana@example.io',
      name: 'Dana',
      role: 'operator',
    });
    assert.equal((me.body.adminKey as { name: string }).name, 'Dana');
    const k = await call(t, 'POST', '/v1/keys', aKey(), null, h);
    assert.equal(k.status, 201, k.raw);
    const keyId = (k.body.record as { id: string }).id;
    const audit = await call(t, 'GET', `/v1/audit?target=${keyId}`);
    const entry = (audit.body.items as { actor: string; actorInfo: unknown }[])[0];
    assert.equal(entry?.actor, m.body.id);
    assert.deepEqual(entry?.actorInfo, { type: 'member', id: m.body.id, email: 'dana@example.io' });
    assert.equal((await call(t, 'GET', '/v1/members', undefined, null, h)).status, 403);
    // Demoted to auditor: writing keys stops with the next request.
    assert.equal(
      (await call(t, 'PATCH', `/v1/members/${String(m.body.id)}`, { role: 'auditor' })).status,
      200,
    );
    const write = await call(t, 'POST', '/v1/keys', aKey(), null, h);
    assert.equal(write.status, 403, write.raw);
    assert.equal((await call(t, 'GET', '/v1/audit', undefined, null, h)).status, 200);
    // Removed: the session ends (every node reads it from the shared store).
    assert.equal((await call(t, 'DELETE', `/v1/members/${String(m.body.id)}`)).status, 200);
    const gone = await call(t, 'GET', '/v1/keys', undefined, null, h);
    assert.equal(gone.status, 401, gone.raw);
    assert.match(String(gone.body.detail), /session has ended|member was removed/);
    // The audit log still names the person after removal.
    const after = await call(t, 'GET', `/v1/audit?target=${keyId}`);
    assert.deepEqual((after.body.items as { actorInfo: unknown }[])[0]?.actorInfo, {
      type: 'member',
      id: m.body.id,
      email: 'dana@example.io',
    });
  });
});
