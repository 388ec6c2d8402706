import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { deriveServerKeys } from '../core/secrets.js';
import { TEST_SECRET, testPgUrl } from '../testing/harness.js';
import { migrate, openStorage } from './db.js';

describe('migrations while other schemas come and go', () => {
  test(
    "PostgreSQL: the introspector the migrator uses sees our schema only, never another's",
    { skip: testPgUrl === undefined && 'needs KEYWARDEN_TEST_DATABASE_URL' },
    async () => {
      const url = testPgUrl ?? '';
      const ours = `kw_scope_${randomBytes(4).toString('hex')}`;
      const theirs = `${ours}_theirs`;
      const admin = openStorage({ databaseUrl: url, dataDir: '.' });
      const s = openStorage({ databaseUrl: url, dataDir: '.', schema: ours });
      try {
        await sql`create schema ${sql.id(theirs)}`.execute(admin.db);
        await sql`create table ${sql.id(theirs)}.keys (id serial primary key)`.execute(admin.db);
        await sql`create table ${sql.id(theirs)}.kysely_migration (name text)`.execute(admin.db);
        assert.deepEqual(await s.db.introspection.getSchemas(), [], 'our schema does not exist yet');
        await migrate(s, ours, deriveServerKeys(TEST_SECRET));
        assert.deepEqual(await s.db.introspection.getSchemas(), [{ name: ours }]);
        const all = await s.db.introspection.getTables({ withInternalKyselyTables: true });
        assert.ok(all.length > 5);
        assert.ok(all.every((t) => t.schema === ours));
        const keys = all.find((t) => t.name === 'keys');
        assert.ok(keys?.columns.some((c) => c.name === 'id' && !c.isNullable && c.dataType === 'text'));
        assert.ok(all.some((t) => t.name === 'kysely_migration'));
        const mine = await s.db.introspection.getTables();
        assert.ok(!mine.some((t) => t.name.startsWith('kysely_')), "the migrator's tables only when asked");
        assert.equal(mine.length, all.length - 2);
      } finally {
        await s.close();
        await sql`drop schema if exists ${sql.id(ours)} cascade`.execute(admin.db);
        await sql`drop schema if exists ${sql.id(theirs)} cascade`.execute(admin.db);
        await admin.close();
      }
    },
  );

  test(
    'PostgreSQL: a store migrates while another application drops its schemas',
    { skip: testPgUrl === undefined && 'needs KEYWARDEN_TEST_DATABASE_URL' },
    async () => {
      const url = testPgUrl ?? '';
      const admin = openStorage({ databaseUrl: url, dataDir: '.' });
      const prefix = `kw_churn_${randomBytes(3).toString('hex')}`;
      let stop = false;
      let dropped = 0;
      // Another tenant of the database creating and dropping schemas with serial columns (what
      // the migrator's introspection looks up by name) as fast as it can.
      const churn = (async () => {
        for (let i = 0; !stop; i++) {
          const name = `${prefix}_${i}`;
          await sql`create schema ${sql.id(name)}`.execute(admin.db);
          await sql`create table ${sql.id(name)}.t (id serial primary key, v text)`.execute(admin.db);
          await sql`drop schema ${sql.id(name)} cascade`.execute(admin.db);
          dropped++;
          // A busy neighbour, not a tight loop: other suites share this database meanwhile.
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      const schemas: string[] = [];
      try {
        for (let round = 0; round < 8; round++) {
          const schema = `kw_race_${randomBytes(5).toString('hex')}`;
          schemas.push(schema);
          const s = openStorage({ databaseUrl: url, dataDir: '.', schema });
          try {
            await migrate(s, schema, deriveServerKeys(TEST_SECRET));
            const n = await s.db
              .selectFrom('keys')
              .select((eb) => eb.fn.countAll<string>().as('n'))
              .executeTakeFirstOrThrow();
            assert.equal(Number(n.n), 0);
          } finally {
            await s.close();
          }
        }
      } finally {
        stop = true;
        await churn;
        for (const schema of schemas)
          await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(admin.db);
        await admin.close();
      }
      assert.ok(dropped > 0, 'schemas were dropped while the stores migrated');
    },
  );
});
