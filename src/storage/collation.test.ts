import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Migrator, sql, type Kysely } from 'kysely';
import {
  DIALECTS,
  ManualClock,
  call,
  createKey,
  startServer,
  testPgUrl,
  verify,
  type TestServer,
} from '../testing/harness.js';
import { openStorage } from './db.js';
import { migrationProvider } from './migrations.js';

/**
 * Ids are time-ordered in base62 (`0-9A-Za-z`), so listing newest first and keyset pagination
 * depend on the store comparing them byte by byte. SQLite does; PostgreSQL compares text with the
 * database's collation, and a database created under an `en_US` locale (the official Docker image's
 * default) sorts `a` before `Z`. Here PostgreSQL runs on a database whose default collation is ICU
 * `en-US`, and ids made one millisecond apart across that boundary must still list in order.
 */
/**
 * Three milliseconds from `from` on whose ids end their time part in '9', 'Z' and 'a'. Ids are
 * monotonic within a process, so each use takes times later than any before it.
 */
function crossing(from: number): [number, number, number] {
  let ms = from;
  while (ms % 62 !== 9) ms++;
  return [ms, ms + 26, ms + 27];
}

/** Runs one statement on the test server's own database (creating and dropping databases). */
async function asAdmin(statement: string): Promise<void> {
  if (testPgUrl === undefined) throw new Error('no PostgreSQL');
  const s = openStorage({ databaseUrl: testPgUrl, dataDir: '.' });
  try {
    await sql.raw(statement).execute(s.db);
  } finally {
    await s.close();
  }
}

for (const [n, dialect] of DIALECTS.entries()) {
  const TIMES = crossing(Date.parse('2026-06-01T10:00:00.000Z') + n * 86_400_000);
  const VERIFIED = crossing(TIMES[2] + 60_000);
  describe(`ids list in creation order under a locale collation (${dialect.name})`, () => {
    let t: TestServer;
    let database: string | undefined;
    /** The URL of `database`, the ICU en-US one. */
    let databaseUrl = '';
    const clock = new ManualClock(TIMES[0]);
    before(async () => {
      let env: Record<string, string> = {};
      if (dialect.name === 'postgres' && testPgUrl !== undefined) {
        database = `kw_collate_${randomBytes(5).toString('hex')}`;
        await asAdmin(
          `create database ${database} template template0 encoding 'UTF8' locale_provider icu icu_locale 'en-US' locale 'C.UTF-8'`,
        );
        const url = new URL(testPgUrl);
        url.pathname = `/${database}`;
        databaseUrl = url.toString();
        env = { KEYWARDEN_DATABASE_URL: databaseUrl };
      }
      t = await startServer(dialect, { clock, env });
    });
    after(async () => {
      try {
        // Undefined when startServer failed: the database it was given is dropped all the same.
        await (t as TestServer | undefined)?.close();
      } finally {
        if (database !== undefined) await asAdmin(`drop database if exists ${database} with (force)`);
      }
    });

    // The database's own collation, the schema after migrating, and the upgrade of rows in place.
    if (dialect.name === 'postgres') {
      test('the test database really sorts a before Z (so the next tests can fail)', async () => {
        const s = t.openStorage();
        try {
          const r = await sql<{ icu: boolean }>`select 'a' < 'Z' as icu`.execute(s.db);
          assert.equal(r.rows[0]?.icu, true);
        } finally {
          await s.close();
        }
      });

      test('every text column of the schema compares byte by byte', async () => {
        const s = t.openStorage();
        try {
          const r = await sql<{ col: string; collation: string | null }>`
            select table_name || '.' || column_name as col, collation_name as collation
            from information_schema.columns
            where table_schema = current_schema() and data_type = 'text'
              and table_name not in ('kysely_migration', 'kysely_migration_lock')`.execute(s.db);
          const collations = new Map(r.rows.map((x) => [x.col, x.collation]));
          // The schema is the server's (not empty, not another one): its ids are there.
          for (const id of ['keys.id', 'verification_log.id', 'admin_keys.id', 'audit_log.target']) {
            assert.equal(collations.get(id), 'C', id);
          }
          // A migration that adds a text column on PostgreSQL must give it COLLATE "C" too.
          assert.deepEqual(
            [...collations].filter(([, c]) => c !== 'C').map(([col]) => col),
            [],
          );
        } finally {
          await s.close();
        }
      });

      test('upgrading a database that holds rows keeps them and their order', async () => {
        if (database === undefined) throw new Error('no test database');
        const schema = `kw_up_${randomBytes(4).toString('hex')}`;
        const s = openStorage({ databaseUrl, dataDir: '.', schema });
        try {
          await s.db.schema.createSchema(schema).execute();
          const migrator = new Migrator({
            db: s.db,
            provider: migrationProvider('postgres'),
            migrationTableSchema: schema,
          });
          const before = await migrator.migrateTo('0006_vlog_code_rare');
          assert.equal(before.error, undefined);
          // Another application's table and a view over it, in the same schema: not Keywarden's to change.
          await sql`create table other_app (name text)`.execute(s.db);
          await sql`create view other_view as select name from other_app`.execute(s.db);
          const ids = ['vlog_VLNZSg9', 'vlog_VLNZSgZ', 'vlog_VLNZSga'];
          for (const [i, id] of ids.entries()) {
            // A row as stored before migration 0012 (no count, last_at, latency_sum_us, overflow).
            await (s.db as unknown as Kysely<{ verification_log: object }>)
              .insertInto('verification_log')
              .values({
                id,
                at: new Date(Date.UTC(2026, 5, 1, 10, 0, i)).toISOString(),
                key_id: null,
                key_start: null,
                environment: 'production',
                permissions: null,
                resource: null,
                code: i === 0 ? 'MALFORMED' : 'VALID',
                ip: null,
                user_agent: null,
                latency_us: 1,
              })
              .execute();
          }
          const order = async () =>
            (await s.db.selectFrom('verification_log').select('id').orderBy('id', 'desc').execute()).map(
              (r) => r.id,
            );
          // Before the upgrade the locale's order: 'a' before 'Z'.
          assert.deepEqual(await order(), ['vlog_VLNZSgZ', 'vlog_VLNZSga', 'vlog_VLNZSg9']);
          const upgrade = await migrator.migrateTo('0007_text_collate_c');
          assert.equal(upgrade.error, undefined);
          assert.deepEqual(
            upgrade.results?.map((r) => `${r.migrationName} ${r.status}`),
            ['0007_text_collate_c Success'],
          );
          assert.deepEqual(await order(), [...ids].reverse());
          const others = await sql<{ table_name: string; collation_name: string | null }>`
            select table_name, collation_name from information_schema.columns
            where table_schema = current_schema() and table_name in ('other_app', 'other_view')
            order by table_name`.execute(s.db);
          assert.deepEqual(others.rows, [
            { table_name: 'other_app', collation_name: null },
            { table_name: 'other_view', collation_name: null },
          ]);
          const rare = await s.db
            .selectFrom('verification_log')
            .select('id')
            .where('code', '<>', 'VALID')
            .where('code', '=', 'MALFORMED')
            .execute();
          assert.deepEqual(
            rare.map((r) => r.id),
            ['vlog_VLNZSg9'],
          );
        } finally {
          await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(s.db);
          await s.close();
        }
      });
    }

    test('keys and their verification log rows list newest first, page by page', async () => {
      const made: { id: string; key: string }[] = [];
      for (const at of TIMES) {
        clock.ms = at;
        made.push(await createKey(t, { permissions: ['agents:invoke'] }));
      }
      // The time parts end in 9, Z and a: byte order is creation order; en-US order is not.
      assert.deepEqual(
        made.map((k) => k.id.charAt(10)),
        ['9', 'Z', 'a'],
      );
      const newestFirst = made.map((k) => k.id).reverse();

      const all = await call(t, 'GET', '/v1/keys?limit=10');
      assert.equal(all.status, 200);
      const listed = (all.body.items as { id: string }[])
        .map((i) => i.id)
        .filter((id) => newestFirst.includes(id));
      assert.deepEqual(listed, newestFirst);

      const paged: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 10; i++) {
        const p = await call(t, 'GET', `/v1/keys?limit=1${cursor !== undefined ? `&cursor=${cursor}` : ''}`);
        assert.equal(p.status, 200);
        paged.push(...(p.body.items as { id: string }[]).map((k) => k.id));
        cursor = p.body.nextCursor as string | undefined;
        if (cursor === undefined || cursor === null) break;
      }
      assert.deepEqual(
        paged.filter((id) => newestFirst.includes(id)),
        newestFirst,
      );

      for (const [i, at] of VERIFIED.entries()) {
        clock.ms = at;
        await verify(t, { key: made[i]?.key ?? '', permission: 'agents:invoke' });
      }
      await t.kw.services.ctx.usage.flush();
      const logs = await call(t, 'GET', '/v1/logs?limit=10');
      assert.equal(logs.status, 200);
      const items = logs.body.items as { id: string; keyId: string; at: string }[];
      assert.deepEqual(
        items.map((r) => r.keyId),
        newestFirst,
      );
      assert.deepEqual(
        items.map((r) => Date.parse(r.at)),
        [...VERIFIED].reverse(),
      );
    });
  });
}
