import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Migrator, sql } from 'kysely';
import { DIALECTS, testPgUrl } from '../testing/harness.js';
import { openStorage } from './db.js';
import { migrationProvider } from './migrations.js';

/** 0009_team_boundary on a store that holds rows: old audit rows and webhooks get the team of what they concern. */
for (const dialect of DIALECTS) {
  describe(`migration 0009_team_boundary (${dialect.name})`, () => {
    test('audit rows take their target team, webhooks their creator team', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kw-mig-'));
      const schema = dialect.name === 'postgres' ? `kw_m_${randomBytes(4).toString('hex')}` : undefined;
      const s = openStorage({
        dataDir: dir,
        ...(dialect.name === 'postgres' ? { databaseUrl: testPgUrl, schema } : {}),
      });
      try {
        if (schema !== undefined) await s.db.schema.createSchema(schema).execute();
        const migrator = new Migrator({
          db: s.db,
          provider: migrationProvider(s.dialect),
          ...(schema !== undefined ? { migrationTableSchema: schema } : {}),
        });
        assert.equal((await migrator.migrateTo('0008_keys_last_used_unindexed')).error, undefined);
        const at = '2026-01-01T00:00:00.000Z';
        await sql`insert into admin_keys (id, name, hash, key_start, key_end, permissions, team, status, created_at, updated_at)
          values ('adm_crm', 'crm-admin', 'h1', 's', 'e', '["*"]', 'crm', 'active', ${at}, ${at}),
                 ('adm_glob', 'glob', 'h2', 's', 'e', '["*"]', null, 'active', ${at}, ${at})`.execute(s.db);
        await sql`insert into keys (id, name, environment, owner_team, permissions, ratelimits, ip_allowlist, metadata, status, key_start, key_end, created_at, updated_at)
          values ('key_crm', 'crm-prod-x', 'production', 'crm', '[]', '[]', '[]', '{}', 'active', 's', 'e', ${at}, ${at})`.execute(
          s.db,
        );
        let seq = 0;
        for (const target of ['key_crm', 'adm_crm', 'adm_glob', 'policy']) {
          seq++;
          await sql`insert into audit_log (id, at, actor, action, target, before, after, ip, prev_hash, hash)
            values (${seq}, ${at}, null, 'x', ${target}, null, null, null, '', ${`h${seq}`})`.execute(s.db);
        }
        await sql`insert into webhooks (id, url, description, events, secret, status, created_at, created_by)
          values ('whk_crm', 'https://x/', null, '[]', 's', 'active', ${at}, 'adm_crm'),
                 ('whk_glob', 'https://y/', null, '[]', 's', 'active', ${at}, 'adm_glob')`.execute(s.db);
        assert.equal((await migrator.migrateTo('0009_team_boundary')).error, undefined);
        const audit = await s.db.selectFrom('audit_log').select(['target', 'team']).orderBy('id').execute();
        assert.deepEqual(
          audit.map((r) => [r.target, r.team]),
          [
            ['key_crm', 'crm'],
            ['adm_crm', 'crm'],
            ['adm_glob', null],
            ['policy', null],
          ],
        );
        const hooks = await s.db.selectFrom('webhooks').select(['id', 'team']).orderBy('id').execute();
        assert.deepEqual(
          hooks.map((r) => [r.id, r.team]),
          [
            ['whk_crm', 'crm'],
            ['whk_glob', null],
          ],
        );
      } finally {
        if (schema !== undefined) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(s.db);
        await s.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
