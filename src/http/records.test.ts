import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompiledQuery, sql } from 'kysely';
import type { VerificationEvent } from '../core/ports.js';
import { SEEN_OTHER, SEEN_VALUES_PER_DAY } from '../storage/usage-batch.js';
import { inProcessVerifier } from '../sdk/in-process.js';
import { logsQuery } from '../storage/usage-repo.js';
import { ManualClock, call, createKey, verify, describeEachDialect } from '../testing/harness.js';

describeEachDialect('usage, verification log and audit', (t, dialect) => {
  const clock = new ManualClock(Date.parse('2026-06-01T10:00:00.000Z'));
  const flush = (): Promise<void> => t.kw.services.ctx.usage.flush();

  test('every verification is logged with its outcome; lastUsedAt moves on valid ones only', async () => {
    const k = await createKey(t, { permissions: ['agents:invoke'] });
    await verify(t, { key: k.key, permission: 'agents:invoke', resource: 'agt_1', ip: '203.0.113.1' });
    clock.advance(60);
    await verify(t, { key: k.key, permission: 'workflows:run', ip: '203.0.113.2' });
    await verify(t, { key: k.key, environment: 'staging' });
    await verify(t, { key: 'garbage' });
    await flush();
    const logs = await call(t, 'GET', `/v1/logs?keyId=${k.id}`);
    assert.equal(logs.status, 200);
    const items = logs.body.items as {
      code: string;
      keyStart: string;
      ip: string | null;
      environment: string;
      permissions: string[];
    }[];
    assert.deepEqual(
      items.map((i) => i.code),
      ['ENVIRONMENT_MISMATCH', 'INSUFFICIENT_PERMISSIONS', 'VALID'],
    );
    assert.equal(items[2]?.keyStart, k.key.slice(0, 12));
    assert.deepEqual(items[2]?.permissions, ['agents:invoke']);
    assert.equal(items[0]?.environment, 'staging');
    const malformed = await call(t, 'GET', '/v1/logs?code=MALFORMED');
    assert.equal((malformed.body.items as unknown[]).length, 1);
    const rec = await call(t, 'GET', `/v1/keys/${k.id}`);
    assert.equal(rec.body.lastUsedAt, '2026-06-01T10:00:00.000Z', 'only the VALID call counts');
    const windowed = await call(
      t,
      'GET',
      `/v1/logs?keyId=${k.id}&from=2026-06-01T10:00:30Z&to=2026-06-01T11:00:00Z`,
    );
    assert.equal((windowed.body.items as unknown[]).length, 2);
    const p1 = await call(t, 'GET', `/v1/logs?keyId=${k.id}&limit=2`);
    assert.equal((p1.body.items as unknown[]).length, 2);
    const p2 = await call(t, 'GET', `/v1/logs?keyId=${k.id}&limit=2&cursor=${p1.body.nextCursor as string}`);
    assert.deepEqual(
      (p2.body.items as { code: string }[]).map((i) => i.code),
      ['VALID'],
    );
    assert.equal(p2.body.nextCursor, null);
  });

  test('usage: counts per day by outcome, IPs, user agents and permissions actually used', async () => {
    const k = await createKey(t, { permissions: ['agents:invoke', 'logs:read'] });
    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.1']) {
      await call(
        t,
        'POST',
        '/v1/verify',
        { key: k.key, environment: 'production', permission: 'agents:invoke', resource: 'agt_7', ip },
        t.root,
        { 'user-agent': 'crm-bot/1.0' },
      );
    }
    await verify(t, { key: k.key, permission: 'billing:charge', userAgent: 'partner-sdk/2' });
    clock.advance(86_400);
    await verify(t, { key: k.key, permission: 'logs:read' });
    await flush();
    const u = await call(t, 'GET', `/v1/keys/${k.id}/usage`);
    assert.equal(u.status, 200, u.raw);
    assert.deepEqual(u.body.days, [
      { day: '2026-06-01', counts: { INSUFFICIENT_PERMISSIONS: 1, VALID: 3 } },
      { day: '2026-06-02', counts: { VALID: 1 } },
    ]);
    assert.deepEqual(u.body.totals, { INSUFFICIENT_PERMISSIONS: 1, VALID: 4 });
    assert.deepEqual(u.body.ips, [
      { value: '10.0.0.1', count: 2 },
      { value: '10.0.0.2', count: 1 },
    ]);
    // The end client's user agent when the platform passes it, else the caller's header.
    assert.deepEqual(
      (u.body.userAgents as { value: string }[]).map((x) => x.value),
      ['crm-bot/1.0', 'lightMyRequest', 'partner-sdk/2'],
    );
    assert.deepEqual(u.body.permissionsUsed, [
      { value: 'agents:invoke:agt_7', count: 3 },
      { value: 'logs:read', count: 1 },
    ]);
    assert.equal(u.body.lastUsedAt, new Date(clock.now()).toISOString());
  });

  test('usage: IPs and user agents kept one by one up to a cap per key and day, then as (other)', async () => {
    const k = await createKey(t, { permissions: ['logs:read'] });
    const send = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) {
        const ip = `10.9.${i >> 8}.${i & 255}`;
        await verify(t, { key: k.key, permission: 'logs:read', ip, userAgent: `bot/${i}` });
      }
    };
    type Seen = { value: string; count: number }[];
    const seen = async (): Promise<{ ips: Seen; userAgents: Seen }> => {
      await flush();
      const u = await call(t, 'GET', `/v1/keys/${k.id}/usage?days=1`);
      assert.equal(u.status, 200, u.raw);
      return { ips: u.body.ips as Seen, userAgents: u.body.userAgents as Seen };
    };
    const total = (xs: Seen): number => xs.reduce((n, x) => n + x.count, 0);
    const other = (xs: Seen): number => xs.find((x) => x.value === SEEN_OTHER)?.count ?? 0;
    await send(0, 150);
    const first = await seen();
    for (const xs of [first.ips, first.userAgents]) {
      assert.equal(xs.length, SEEN_VALUES_PER_DAY + 1, 'the cap, and one row for the rest');
      assert.equal(other(xs), 150 - SEEN_VALUES_PER_DAY, 'the values past the cap are counted together');
      assert.equal(total(xs), 150, 'every call is counted');
    }
    await send(150, 250);
    const second = await seen();
    for (const [before, after] of [
      [first.ips, second.ips],
      [first.userAgents, second.userAgents],
    ] as const) {
      assert.equal(after.length, before.length, 'no row for a new value once the cap is reached');
      assert.equal(other(after), other(before) + 100);
      assert.equal(total(after), 250);
    }
    // A value kept before the cap still counts on its own; another key has its own cap.
    await verify(t, { key: k.key, permission: 'logs:read', ip: '10.9.0.0', userAgent: 'bot/0' });
    const third = await seen();
    assert.equal(third.ips.find((x) => x.value === '10.9.0.0')?.count, 2);
    const fresh = await createKey(t, { permissions: ['logs:read'] });
    await verify(t, { key: fresh.key, permission: 'logs:read', ip: '10.8.0.1', userAgent: 'other/1' });
    await flush();
    const f = await call(t, 'GET', `/v1/keys/${fresh.id}/usage?days=1`);
    assert.deepEqual(f.body.ips, [{ value: '10.8.0.1', count: 1 }]);
  });

  test("a day's counters past 2^31 calls keep counting (64-bit on both databases)", async () => {
    const k = await createKey(t, { permissions: ['logs:read'] });
    const call1 = { key: k.key, permission: 'logs:read', ip: '10.7.0.1', userAgent: 'busy/1' };
    await verify(t, call1);
    await flush();
    // A day of ~25,000 calls a second: set directly, as a counter that got there by itself.
    const near = 2 ** 31 - 3;
    await sql`update key_usage_daily set n = ${near} where key_id = ${k.id}`.execute(t.kw.storage.db);
    await sql`update key_usage_seen set n = ${near} where key_id = ${k.id}`.execute(t.kw.storage.db);
    for (let i = 0; i < 10; i++) await verify(t, call1);
    await flush();
    const u = await call(t, 'GET', `/v1/keys/${k.id}/usage?days=1`);
    assert.equal(u.status, 200, u.raw);
    // PostgreSQL's 32-bit column failed the write ("integer out of range"), and every write after it.
    assert.deepEqual(u.body.totals, { VALID: near + 10 });
    assert.deepEqual(u.body.ips, [{ value: '10.7.0.1', count: near + 10 }]);
    assert.deepEqual(u.body.permissionsUsed, [{ value: 'logs:read', count: near + 10 }]);
    const logs = await call(t, 'GET', `/v1/logs?keyId=${k.id}`);
    const counted = (logs.body.items as { count: number }[]).reduce((n, i) => n + i.count, 0);
    assert.equal(counted, 11, 'the log rows were written with the counters');
  });

  test('in-process calls are checked like the API: refused input never reaches the log, nothing is lost', async () => {
    const k = await createKey(t, { permissions: ['agents:invoke'] });
    const v = t.kw.services.verifier;
    const ok = { key: k.key, environment: 'production' as const, permissions: ['agents:invoke'], cost: 1 };
    // Each was verified VALID and logged as given (a NUL failed every PostgreSQL usage write after it).
    for (const [input, userAgent, detail] of [
      [{ ...ok, resource: 'agt\u0000x' }, null, /resource "agt\\u0000x" may only hold/],
      [{ ...ok, resource: 'agents/7' }, null, /resource "agents\/7" may only hold/],
      [{ ...ok, permissions: ['agents:*'] }, null, /"agents:\*" is not a permission to check/],
      [{ ...ok, ip: 'nope' }, null, /ip \(a 4-character value, not echoed\) is not an IPv4 or IPv6 address/],
      [ok, 'bot\u0000/1', /user agent contains a NUL/],
      [{ ...ok, environment: 'prod' as 'production' }, null, /environment "prod" is not one of/],
      [{ ...ok, cost: -1 }, null, /cost -1 is not a whole number/],
    ] as const) {
      assert.throws(
        () => v.verify(input, { team: null, userAgent }),
        (e: unknown) =>
          e instanceof Error && 'code' in e && e.code === 'VALIDATION_FAILED' && detail.test(e.message),
      );
    }
    // The SDK's in-process verifier hands the refusal over as a rejected promise, like any failure.
    const sdk = inProcessVerifier(t.kw.services);
    const refused = sdk.verify({ key: k.key, environment: 'production', resource: 'a b' });
    await assert.rejects(refused, /resource "a b" may only hold/);
    // The same refusals over HTTP (the route's 400 comes from the same check).
    const r = await call(t, 'POST', '/v1/verify', { key: k.key, environment: 'production', resource: 'a/b' });
    assert.equal(r.status, 400, r.raw);
    assert.match(String(r.body.detail), /resource "a\/b" may only hold/);
    // Usage goes on being written: the valid calls are all counted.
    for (let i = 0; i < 3; i++) await v.verify({ ...ok, resource: `agt_${i}` }, { team: null });
    await flush();
    const logs = await call(t, 'GET', `/v1/logs?keyId=${k.id}`);
    const items = logs.body.items as { count: number; resource: string | null }[];
    assert.deepEqual(items.map((i) => i.resource).sort(), ['agt_0', 'agt_1', 'agt_2']);
  });

  test('log filters by code: VALID walks the primary key, other codes use the code index', async () => {
    const k = await createKey(t, { permissions: ['agents:invoke'] });
    await verify(t, { key: k.key, permission: 'agents:invoke' });
    await verify(t, { key: k.key, permission: 'agents:invoke' });
    await verify(t, { key: k.key, permission: 'billing:charge' });
    await flush();
    // The two VALID calls share their minute and combination: one row counting 2.
    const codes = async (code: string): Promise<string[]> =>
      (
        (await call(t, 'GET', `/v1/logs?keyId=${k.id}&code=${code}`)).body.items as {
          code: string;
          count: number;
        }[]
      ).map((i) => `${i.code}×${i.count}`);
    assert.deepEqual(await codes('VALID'), ['VALID×2']);
    assert.deepEqual(await codes('INSUFFICIENT_PERMISSIONS'), ['INSUFFICIENT_PERMISSIONS×1']);
    // The index holds only codes other than VALID; SQLite uses it only for a query that names
    // that predicate (PostgreSQL also infers it from code = 'MALFORMED').
    const q = logsQuery(t.kw.storage.db, { code: 'MALFORMED' }, 51).compile();
    const plan = await t.kw.storage.db.connection().execute(async (conn) => {
      if (dialect.name === 'sqlite') {
        const r = await conn.executeQuery(
          CompiledQuery.raw(`explain query plan ${q.sql}`, [...q.parameters]),
        );
        return JSON.stringify(r.rows);
      }
      // PostgreSQL picks a sequential scan for a table this small; forbid it to see the index is usable.
      await sql`set enable_seqscan = off`.execute(conn);
      try {
        const r = await conn.executeQuery(CompiledQuery.raw(`explain ${q.sql}`, [...q.parameters]));
        return JSON.stringify(r.rows);
      } finally {
        await sql`reset enable_seqscan`.execute(conn);
      }
    });
    assert.match(plan, /vlog_code_rare/);
  });

  test('a time window is a range of the primary key: late rows are found, no index on at is needed', async () => {
    const k = await createKey(t, { permissions: ['agents:invoke'] });
    const usage = t.kw.services.ctx.usage;
    const now = clock.now();
    const event = (at: number, ip: string): VerificationEvent => ({
      at,
      keyId: k.id,
      keyStart: k.key.slice(0, 12),
      environment: 'production',
      permissions: [],
      resource: null,
      code: 'VALID',
      ip,
      userAgent: 'late/1',
      latencyUs: 5,
    });
    usage.record(event(now, '10.5.0.1'));
    await flush();
    // A row written after a newer one: calls of ten minutes ago, held back (a storage outage).
    usage.record(event(now - 600_000, '10.5.0.2'));
    usage.record(event(now - 600_000 + 30_000, '10.5.0.2'));
    await flush();
    const ips = async (from: number, to: number): Promise<string[]> => {
      const q = `keyId=${k.id}&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;
      const r = await call(t, 'GET', `/v1/logs?${q}`);
      assert.equal(r.status, 200, r.raw);
      return (r.body.items as { ip: string; count: number }[]).map((i) => `${i.ip}×${i.count}`);
    };
    assert.deepEqual(
      await ips(now - 660_000, now - 540_000),
      ['10.5.0.2×2'],
      'the late row, by its own time',
    );
    assert.deepEqual(await ips(now - 600_000, now - 599_999), ['10.5.0.2×2'], 'the window of its first call');
    assert.deepEqual(await ips(now - 599_999, now - 599_000), [], 'a window after its first call');
    assert.deepEqual(await ips(now - 60_000, now + 1), ['10.5.0.1×1']);
    // A far end (past 2081, where ids' 7 time characters wrap) bounds nothing.
    assert.deepEqual(await ips(now - 60_000, Date.parse('2100-01-01T00:00:00Z')), ['10.5.0.1×1']);
    // A window that ends before it starts, and cursors no page returned, are refused.
    const backwards = await call(t, 'GET', `/v1/logs?from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z`);
    assert.equal(backwards.status, 400, backwards.raw);
    assert.match(
      String(backwards.body.detail),
      /query\.from \(2026-06-02T00:00:00\.000Z\) is after query\.to/,
    );
    for (const cursor of ['', 'garbage', 'zzzzzz', k.id]) {
      const r = await call(t, 'GET', `/v1/logs?cursor=${encodeURIComponent(cursor)}`);
      assert.equal(r.status, 400, `cursor ${JSON.stringify(cursor)}: ${r.raw}`);
      assert.match(String(r.body.detail), /cursor/);
    }
    const first = await call(t, 'GET', `/v1/logs?keyId=${k.id}&limit=1`);
    const next = String(first.body.nextCursor);
    const second = await call(t, 'GET', `/v1/logs?keyId=${k.id}&limit=1&cursor=${next}`);
    assert.equal(second.status, 200, 'a cursor the server returned pages on');
    assert.notDeepEqual(second.body.items, first.body.items);
    const leap = await call(t, 'GET', `/v1/logs?keyId=${k.id}&to=2026-06-30T23:59:60Z`);
    assert.equal(leap.status, 400, leap.raw);
    assert.match(
      String(leap.body.detail),
      /query\.to "2026-06-30T23:59:60Z" is not a time this server can read/,
    );
    // No index on `at` (migration 0021): a window without a key walks the primary key's range.
    const q = logsQuery(
      t.kw.storage.db,
      { from: new Date(now - 660_000).toISOString(), to: new Date(now).toISOString() },
      51,
    ).compile();
    const plan = await t.kw.storage.db.connection().execute(async (conn) => {
      if (dialect.name === 'sqlite')
        return JSON.stringify(
          (await conn.executeQuery(CompiledQuery.raw(`explain query plan ${q.sql}`, [...q.parameters]))).rows,
        );
      await sql`set enable_seqscan = off`.execute(conn);
      try {
        return JSON.stringify(
          (await conn.executeQuery(CompiledQuery.raw(`explain ${q.sql}`, [...q.parameters]))).rows,
        );
      } finally {
        await sql`reset enable_seqscan`.execute(conn);
      }
    });
    assert.doesNotMatch(plan, /vlog_at/);
    assert.match(
      plan,
      dialect.name === 'sqlite'
        ? /sqlite_autoindex_verification_log_1 \(id>\? AND id<\?\)/
        : /verification_log_pkey/,
    );
    const indexes =
      dialect.name === 'sqlite'
        ? await sql<{
            name: string;
          }>`select name from sqlite_master where type = 'index' and tbl_name = 'verification_log'`.execute(
            t.kw.storage.db,
          )
        : await sql<{
            name: string;
          }>`select indexname as name from pg_indexes where tablename = 'verification_log' and schemaname = current_schema()`.execute(
            t.kw.storage.db,
          );
    assert.deepEqual(
      indexes.rows
        .map((r) => r.name)
        .filter((n) => n.startsWith('vlog_'))
        .sort(),
      ['vlog_code_rare', 'vlog_key', 'vlog_shadow'],
    );
  });

  test('log retention removes rows older than the configured days', async () => {
    const k = await createKey(t);
    await verify(t, { key: k.key });
    await flush();
    const before = (await call(t, 'GET', `/v1/logs?keyId=${k.id}`)).body.items as unknown[];
    assert.equal(before.length, 1);
    clock.advance(29 * 86_400);
    await t.kw.jobs.sweepLogs();
    assert.equal(((await call(t, 'GET', `/v1/logs?keyId=${k.id}`)).body.items as unknown[]).length, 1);
    clock.advance(2 * 86_400);
    assert.ok((await t.kw.jobs.sweepLogs()) >= 1);
    assert.equal(((await call(t, 'GET', `/v1/logs?keyId=${k.id}`)).body.items as unknown[]).length, 0);
  });

  test('every admin action is audited with actor, target, before/after and ip, in the same transaction', async () => {
    const k = await createKey(t, { name: 'crm-prod-audited' });
    await call(t, 'PATCH', `/v1/keys/${k.id}`, { purpose: 'changed' });
    await call(t, 'POST', `/v1/keys/${k.id}/disable`, { reason: 'test' });
    await call(t, 'POST', `/v1/keys/${k.id}/enable`);
    await call(t, 'POST', `/v1/keys/${k.id}/regenerate`, { gracePeriodSeconds: 60 });
    await call(t, 'DELETE', `/v1/keys/${k.id}`);
    const r = await call(t, 'GET', `/v1/audit?target=${k.id}`);
    const items = r.body.items as {
      action: string;
      actor: string;
      ip: string;
      before: { purpose?: string } | null;
      after: { purpose?: string; status?: string };
    }[];
    assert.deepEqual(
      items.map((i) => i.action),
      ['key.delete', 'key.regenerate', 'key.enable', 'key.disable', 'key.update', 'key.create'],
    );
    const update = items[4];
    assert.equal(update?.before?.purpose, 'agent-call');
    assert.equal(update?.after.purpose, 'changed');
    assert.ok(items.every((i) => i.actor.startsWith('adm_') && i.ip === '127.0.0.1'));
    const byAction = await call(t, 'GET', '/v1/audit?action=key.disable');
    assert.ok((byAction.body.items as { target: string }[]).some((i) => i.target === k.id));
    // A change refused half-way writes no audit row either.
    const count = (await call(t, 'GET', `/v1/audit?target=${k.id}&limit=500`)).body.items as unknown[];
    assert.equal((await call(t, 'POST', `/v1/keys/${k.id}/enable`)).status, 409);
    assert.equal(
      ((await call(t, 'GET', `/v1/audit?target=${k.id}&limit=500`)).body.items as unknown[]).length,
      count.length,
    );
  });

  test('the audit hash chain detects a row edited directly in the database', async () => {
    const ok = await call(t, 'GET', '/v1/audit/verify');
    assert.equal(ok.body.ok, true);
    assert.ok((ok.body.entries as number) > 5);
    const victim = ((await call(t, 'GET', '/v1/audit?action=key.update')).body.items as { id: number }[])[0];
    assert.ok(victim);
    await sql`update audit_log set after = ${'{"purpose":"innocent"}'} where id = ${victim.id}`.execute(
      t.kw.storage.db,
    );
    const broken = await call(t, 'GET', '/v1/audit/verify');
    assert.deepEqual(broken.body, { ok: false, entries: broken.body.entries, brokenAt: victim.id });
  });

  test('no plaintext key reaches logs, audit rows, metrics or the verification log', async () => {
    const keys: string[] = [t.root];
    const k = await createKey(t);
    keys.push(k.key);
    const regen = await call(t, 'POST', `/v1/keys/${k.id}/regenerate`);
    keys.push(regen.body.key as string);
    const adm = await call(t, 'POST', '/v1/admin-keys', { name: 'ops', permissions: ['keys:read'] });
    keys.push(adm.body.key as string);
    for (const key of keys) await verify(t, { key });
    await call(t, 'POST', '/v1/keys', { name: 'x', environment: 'production', bogus: keys[1] });
    await call(t, 'GET', '/v1/keys', undefined, keys[1] ?? '');
    // Keys given where something else was expected: refused without being quoted back or logged.
    const live = keys[2] ?? '';
    const answers: string[] = [];
    const asPermission = await call(t, 'POST', '/v1/verify', {
      key: live,
      environment: 'production',
      permissions: [keys[1]],
    });
    assert.equal(asPermission.status, 400);
    assert.match(String(asPermission.body.detail), /"kw_prod_\w{4}…" is not a permission to check/);
    const asId = await call(t, 'GET', `/v1/keys/${keys[1]}/usage`);
    assert.equal(asId.status, 404);
    assert.match(String(asId.body.detail), /no key with id kw_prod_\w{4}…$/);
    const asResource = await call(t, 'POST', '/v1/verify', {
      key: live,
      environment: 'production',
      permission: 'agents:invoke',
      resource: keys[1],
    });
    assert.equal(asResource.status, 400);
    assert.match(String(asResource.body.detail), /resource "kw_prod_\w{4}…" is an API key/);
    const inResourceId = await call(t, 'POST', '/v1/verify', {
      key: live,
      environment: 'production',
      permission: `agents:invoke:${keys[1]}`,
    });
    assert.equal(inResourceId.status, 400);
    assert.match(
      String(inResourceId.body.detail),
      /permission "agents:invoke:kw_prod_\w{4}…" holds an API key/,
    );
    const afterUnderscore = await call(t, 'POST', '/v1/verify', {
      key: live,
      environment: 'production',
      permission: 'agents:invoke',
      resource: `tenant_${keys[1]}`,
    });
    assert.equal(afterUnderscore.status, 400);
    // An id that only looks like a key (no valid checksum) is a resource like any other.
    const lookalike = await call(t, 'POST', '/v1/verify', {
      key: live,
      environment: 'production',
      permission: 'agents:invoke',
      resource: 'db_prod_clusterAlpha01234567',
    });
    assert.equal(lookalike.status, 200, lookalike.raw);
    const asAdminResource = await call(t, 'POST', '/v1/verify', {
      key: live,
      environment: 'production',
      permission: 'agents:invoke',
      resource: t.root,
    });
    assert.equal(asAdminResource.status, 400);
    for (const r of [asPermission, asId, asResource, asAdminResource, inResourceId, afterUnderscore])
      answers.push(JSON.stringify(r.body));
    await flush();
    const audit = await sql<{ s: string }>`select before || ' ' || after as s from audit_log`.execute(
      t.kw.storage.db,
    );
    const vlog = await t.kw.storage.db.selectFrom('verification_log').selectAll().execute();
    const metrics = (await call(t, 'GET', '/metrics', undefined, null)).raw;
    const haystacks = {
      logs: t.logs(),
      audit: JSON.stringify(audit.rows),
      vlog: JSON.stringify(vlog),
      metrics,
      answers: answers.join('\n'),
    };
    for (const key of keys) {
      const secretPart = key.slice(12, -4);
      for (const [where, text] of Object.entries(haystacks)) {
        assert.ok(!text.includes(secretPart), `a key's secret part appears in ${where}`);
      }
    }
    assert.match(
      t.logs(),
      /request refused/,
      'the refused calls above were logged (so the check above read something)',
    );
  });
  return { clock };
});
