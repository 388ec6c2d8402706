import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { deriveServerKeys } from '../core/secrets.js';
import { TEST_SECRET, testPgUrl } from '../testing/harness.js';
import { migrate, openStorage, withForeignSchemaRetry } from './db.js';

const vanished = (schema: string) => ({ error: new Error(`schema "${schema}" does not exist`) });

describe('migrations while other schemas come and go', () => {
  test('only a foreign schema vanishing is retried, a bounded number of times', async () => {
    let calls = 0;
    const foreign = await withForeignSchemaRetry('kw_ours', () => {
      calls++;
      return Promise.resolve(calls < 3 ? vanished('kw_theirs') : { error: undefined });
    });
    assert.equal(foreign.error, undefined);
    assert.equal(calls, 3);

    calls = 0;
    const own = await withForeignSchemaRetry('kw_ours', () => {
      calls++;
      return Promise.resolve(vanished('kw_ours'));
    });
    assert.equal(calls, 1, 'our own schema missing is a real error');
    assert.match(String(own.error), /kw_ours/);

    calls = 0;
    await withForeignSchemaRetry(
      'kw_ours',
      () => {
        calls++;
        return Promise.resolve(vanished('kw_theirs'));
      },
      4,
    );
    assert.equal(calls, 4, 'gives up after its attempts');
  });

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
