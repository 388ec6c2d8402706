import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Migrator, sql } from 'kysely';
import { deriveServerKeys } from '../core/secrets.js';
import { migrate, openStorage, type Storage } from '../storage/db.js';
import { migrationProvider } from '../storage/migrations.js';
import { TEST_SECRET, testPgUrl, type Dialect } from './harness.js';

/** A store as an earlier version left it, to test the upgrade from it. */
export interface OlderStore {
  s: Storage;
  /** Runs the migrations after it, as a server's start does. */
  upgrade: () => Promise<void>;
  /** Closes it and removes its directory or PostgreSQL schema. */
  close: () => Promise<void>;
}

/** A store migrated up to `migration` only, on its own SQLite directory or PostgreSQL schema. */
export async function olderStore(dialect: Dialect, migration: string): Promise<OlderStore> {
  const dir = mkdtempSync(join(tmpdir(), 'kw-older-'));
  const schema = dialect.name === 'postgres' ? `kw_o_${randomBytes(5).toString('hex')}` : undefined;
  const s =
    dialect.name === 'postgres'
      ? openStorage({ databaseUrl: testPgUrl, dataDir: dir, schema })
      : openStorage({ dataDir: dir });
  const keys = deriveServerKeys(TEST_SECRET);
  const close = async (): Promise<void> => {
    if (schema !== undefined) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(s.db);
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (schema !== undefined) await s.db.schema.createSchema(schema).execute();
    const migrator = new Migrator({
      db: s.db,
      provider: migrationProvider(dialect.name, keys),
      ...(schema !== undefined ? { migrationTableSchema: schema } : {}),
    });
    assert.equal((await migrator.migrateTo(migration)).error, undefined);
  } catch (err) {
    await close();
    throw err;
  }
  return { s, upgrade: () => migrate(s, schema, keys), close };
}
