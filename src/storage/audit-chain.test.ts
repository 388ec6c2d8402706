import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Migrator, sql, type Kysely } from 'kysely';
import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { auditHash, legacyAuditHash, type AuditContent } from '../core/audit.js';
import { deriveServerKeys, isSealed, unseal } from '../core/secrets.js';
import { createKeywarden } from '../main.js';
import {
  DIALECTS,
  TEST_SECRET,
  call,
  createKey,
  testPgUrl,
  type TestServer,
  describeEachDialect,
} from '../testing/harness.js';
import { verifyAuditChain } from './audit-repo.js';
import { openStorage, type Storage } from './db.js';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';

const realKey = deriveServerKeys(TEST_SECRET).auditChain;
const otherKey = deriveServerKeys(`${TEST_SECRET}-another`).auditChain;
type Link = (row: AuditContent, prev: string) => string;

/**
 * What an attacker with write access to the database does: edits row `from` (optionally), re-links
 * every row from there with `link`, and moves the head, so that every stored link matches `link`.
 */
async function rechain(db: Kysely<Database>, from: number, link: Link, edit = false): Promise<void> {
  const rows = await db.selectFrom('audit_log').selectAll().where('id', '>=', from).orderBy('id').execute();
  const first = await db
    .selectFrom('audit_log')
    .select('prev_hash')
    .where('id', '=', from)
    .executeTakeFirstOrThrow();
  let prev = first.prev_hash;
  for (const r of rows) {
    const content = { ...r, after: edit && r.id === from ? '{"forged":true}' : r.after };
    const hash = link(content, prev);
    await db
      .updateTable('audit_log')
      .set({ after: content.after, prev_hash: prev, hash })
      .where('id', '=', r.id)
      .execute();
    prev = hash;
  }
  await db.updateTable('audit_head').set({ hash: prev }).where('id', '=', 1).execute();
}

const check = async (t: TestServer, anchor?: string) =>
  (await call(t, 'GET', `/v1/audit/verify${anchor === undefined ? '' : `?anchor=${anchor}`}`)).body;

describeEachDialect('keyed audit chain', (t) => {
  before(async () => {
    for (let i = 0; i < 5; i++) await createKey(t);
  });

  test('rows re-linked with plain SHA-256 or another key fail at the first such row', async () => {
    const db = t.kw.storage.db;
    assert.deepEqual(await check(t), { ok: true, entries: 6, brokenAt: null });
    await rechain(db, 4, (r, p) => legacyAuditHash(r, p), true);
    assert.deepEqual(await check(t), { ok: false, entries: 4, brokenAt: 4 });
    await rechain(db, 5, (r, p) => auditHash(otherKey, r, p), true);
    assert.equal((await check(t)).brokenAt, 4);
    await rechain(db, 4, (r, p) => auditHash(otherKey, r, p));
    assert.equal((await check(t)).brokenAt, 4, 'another key');
    // The control: only the server's own key re-links rows that verify.
    await rechain(db, 4, (r, p) => auditHash(realKey, r, p));
    assert.deepEqual(await check(t), { ok: true, entries: 6, brokenAt: null });
  });

  test('a head kept outside detects a truncated log whose head was moved back', async () => {
    const head = (await call(t, 'GET', '/v1/audit/head')).body as { seq: number; hash: string; at: string };
    assert.equal(head.seq, 6);
    assert.match(head.hash, /^[0-9a-f]{64}$/);
    assert.ok(Number.isFinite(Date.parse(head.at)));
    const anchor = `${head.seq}:${head.hash}`;
    assert.deepEqual(await check(t, anchor), { ok: true, entries: 6, brokenAt: null });
    const older = await t.kw.storage.db
      .selectFrom('audit_log')
      .select(['id', 'hash'])
      .where('id', '=', 3)
      .executeTakeFirstOrThrow();
    assert.equal((await check(t, `3:${older.hash}`)).ok, true, 'an older head is still held');
    assert.deepEqual(await check(t, `3:${'a'.repeat(64)}`), { ok: false, entries: 3, brokenAt: 3 });
    // Delete the last 3 rows and move the head back: the chain alone still looks whole.
    await t.kw.storage.db.deleteFrom('audit_log').where('id', '>', 3).execute();
    await t.kw.storage.db
      .updateTable('audit_head')
      .set({ seq: 3, hash: older.hash })
      .where('id', '=', 1)
      .execute();
    assert.equal((await check(t)).ok, true);
    assert.deepEqual(await check(t, anchor), { ok: false, entries: 3, brokenAt: 6 });
  });

  test('head and verify: global audit:read keys only, anchors well-formed', async () => {
    const team = await call(t, 'POST', '/v1/admin-keys', {
      name: 'crm-auditor',
      permissions: ['audit:read'],
      team: 'crm',
    });
    assert.equal(team.status, 201, team.raw);
    const teamKey = team.body.key as string;
    for (const path of ['/v1/audit/head', '/v1/audit/verify']) {
      const r = await call(t, 'GET', path, undefined, teamKey);
      assert.equal(r.status, 403, path);
      assert.match(String(r.body.detail), /team "crm"/);
    }
    for (const bad of ['6', '0:' + 'a'.repeat(64), '6:XYZ', `6:${'a'.repeat(63)}`]) {
      const r = await call(t, 'GET', `/v1/audit/verify?anchor=${bad}`);
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.code, 'VALIDATION_FAILED');
    }
  });
});

for (const dialect of DIALECTS) {
  describe(`a store made before the chain was keyed (${dialect.name})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'kw-upgrade-'));
    const schema = dialect.name === 'postgres' ? `kw_t_${randomBytes(6).toString('hex')}` : undefined;
    const env = {
      KEYWARDEN_DATA_DIR: dir,
      KEYWARDEN_SECRET: TEST_SECRET,
      ...(dialect.name === 'postgres' && testPgUrl !== undefined
        ? { KEYWARDEN_DATABASE_URL: testPgUrl }
        : {}),
    };
    const open = (): Storage =>
      openStorage({ databaseUrl: env.KEYWARDEN_DATABASE_URL, dataDir: dir, schema });
    const start = (over: Record<string, string> = {}) =>
      createKeywarden(loadConfig({ ...env, ...over }), {
        logger: pino({ level: 'silent' }),
        ...(schema === undefined ? {} : { schema }),
      });

    before(async () => {
      // Today's store: migrations up to 0008, rows linked with plain SHA-256 as appendAudit did.
      const s = open();
      if (schema !== undefined) await s.db.schema.createSchema(schema).execute();
      const migrator = new Migrator({
        db: s.db,
        provider: migrationProvider(s.dialect),
        ...(schema === undefined ? {} : { migrationTableSchema: schema }),
      });
      assert.equal((await migrator.migrateTo('0008_keys_last_used_unindexed')).error, undefined);
      let prev = '';
      for (let id = 1; id <= 3; id++) {
        const row = {
          id,
          at: `2026-01-0${id}T00:00:00.000Z`,
          actor: 'adm_x',
          action: 'key.create',
          target: `key_${id}`,
          before: null,
          after: '{"name":"n"}',
          ip: null,
        };
        const hash = legacyAuditHash(row, prev);
        await s.db
          .insertInto('audit_log')
          .values({ ...row, prev_hash: prev, hash })
          .execute();
        prev = hash;
      }
      await s.db.updateTable('audit_head').set({ seq: 3, hash: prev }).where('id', '=', 1).execute();
      await s.db
        .insertInto('webhooks')
        .values({
          id: 'whk_legacy',
          url: 'http://127.0.0.1:9/hook',
          description: null,
          events: '["key.disabled"]',
          secret: 'whsec_legacyplaintext',
          status: 'active',
          created_at: '2026-01-01T00:00:00.000Z',
          created_by: null,
        })
        .execute();
      await s.close();
    });
    after(async () => {
      if (schema !== undefined && testPgUrl !== undefined) {
        const s = openStorage({ databaseUrl: testPgUrl, dataDir: dir });
        await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(s.db);
        await s.close();
      }
      rmSync(dir, { recursive: true, force: true });
    });

    test('old rows verify with SHA-256 up to the recorded switch-over, new rows with HMAC', async () => {
      const kw = await start();
      try {
        const db = kw.storage.db;
        assert.deepEqual(await verifyAuditChain(db), { ok: true, entries: 3, brokenAt: null });
        await kw.services.admin.initRoot();
        assert.deepEqual(await verifyAuditChain(db), { ok: true, entries: 4, brokenAt: null });
        const row4 = await db
          .selectFrom('audit_log')
          .selectAll()
          .where('id', '=', 4)
          .executeTakeFirstOrThrow();
        assert.equal(row4.hash, auditHash(realKey, row4, row4.prev_hash), 'the new row is an HMAC link');
        const meta = await db
          .selectFrom('meta')
          .selectAll()
          .where('name', '=', 'audit.keyed_from')
          .executeTakeFirstOrThrow();
        assert.equal(meta.value, '4');

        // The plaintext webhook secret is encrypted at rest now, and still the same secret.
        const hook = await db
          .selectFrom('webhooks')
          .select('secret')
          .where('id', '=', 'whk_legacy')
          .executeTakeFirstOrThrow();
        assert.ok(isSealed(hook.secret));
        assert.equal(
          unseal(deriveServerKeys(TEST_SECRET).webhookSecrets, hook.secret, 'whk_legacy'),
          'whsec_legacyplaintext',
        );

        // Editing an old row still breaks the chain there.
        await db.updateTable('audit_log').set({ after: '{"name":"m"}' }).where('id', '=', 2).execute();
        assert.equal((await verifyAuditChain(db)).brokenAt, 2);
        // Re-linking the old rows with SHA-256 (anyone can) is caught at the first keyed row,
        // whose HMAC covers the old chain's last link.
        await rechain(db, 2, (r, p) => legacyAuditHash(r, p), true);
        assert.equal((await verifyAuditChain(db)).brokenAt, 4);
        // Passing the keyed row off as an old one (moving the switch-over past it) is caught too.
        await rechain(db, 4, (r, p) => legacyAuditHash(r, p));
        await db.updateTable('meta').set({ value: '5' }).where('name', '=', 'audit.keyed_from').execute();
        assert.equal((await verifyAuditChain(db)).ok, false);
        await db.deleteFrom('meta').where('name', '=', 'audit.keyed_from_tag').execute();
        assert.equal((await verifyAuditChain(db)).ok, false, 'nor by deleting its seal');
      } finally {
        await kw.close();
      }
    });

    test('a node with another secret refuses to start, naming the variable', async () => {
      await assert.rejects(
        start({ KEYWARDEN_SECRET: `${TEST_SECRET}-another` }),
        /KEYWARDEN_SECRET is not the secret this store was created with/,
      );
    });
  });
}
