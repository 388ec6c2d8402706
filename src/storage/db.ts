import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator } from 'kysely';
import { migrationProvider } from './migrations.js';
import { ScopedPostgresDialect } from './pg-introspector.js';
import { configureSqlite } from './sqlite/pragmas.js';
import { SharedSqliteDialect } from './sqlite/driver.js';
import { newWriteTurns } from './sqlite/write-turns.js';
import type { Database } from './schema.js';
import type { ServerKeys } from '../core/secrets.js';

export type DialectName = 'sqlite' | 'postgres';

export interface Storage {
  db: Kysely<Database>;
  dialect: DialectName;
  /** Human description without credentials, for logs and `init` output. */
  location: string;
  close(): Promise<void>;
  /**
   * SQLite only: the connection's own prepared statements, for the one write too hot for a query
   * builder (a verification log row per verification). Kysely's SQLite dialect uses this same
   * single connection, so a statement run inside one of its transactions is part of it.
   */
  sqlite?: RawSqlite;
  /** SQLite only: the server's and the usage writer's turns at the write lock (sqlite/write-turns.ts). */
  writeTurns?: Int32Array;
}

/** The slice of better-sqlite3 the raw path uses. */
export interface RawSqlite {
  prepare(sql: string): { run(...params: unknown[]): unknown; get(...params: unknown[]): unknown };
  /** False once closed: callers then go through Kysely, which reports the closed storage as before. */
  readonly open: boolean;
  /** The database file (the usage writer's worker opens its own connection to it). */
  readonly name: string;
  /** True for `:memory:`, which no second connection can share. */
  readonly memory: boolean;
}

export interface StorageOptions {
  /** postgres://… selects PostgreSQL; otherwise SQLite in dataDir. */
  databaseUrl?: string | undefined;
  dataDir: string;
  /** PostgreSQL schema to use (created if missing); lets test runs never collide. */
  schema?: string | undefined;
  poolSize?: number;
}

export function openStorage(opts: StorageOptions): Storage {
  if (opts.databaseUrl !== undefined && /^postgres(ql)?:\/\//.test(opts.databaseUrl)) {
    const url = new URL(opts.databaseUrl);
    const schema = opts.schema;
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new Error(`invalid PostgreSQL schema name: ${schema}`);
    }
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolSize ?? 10,
      // Fail fast while the database is down instead of queueing requests behind a dead socket.
      connectionTimeoutMillis: 2000,
      ...(schema !== undefined ? { options: `-c search_path=${schema}` } : {}),
    });
    // An idle client that loses its server must not crash the process; the pool replaces it.
    pool.on('error', () => undefined);
    // A checked-out client whose server vanishes also emits 'error'; its query is rejected anyway,
    // so the event itself carries nothing to act on and must not become an uncaught exception.
    pool.on('connect', (client) => {
      client.on('error', () => undefined);
    });
    // Its introspector (what the migrator uses) sees our schema only: see pg-introspector.ts.
    const db = new Kysely<Database>({ dialect: new ScopedPostgresDialect({ pool }, schema ?? 'public') });
    return {
      db,
      dialect: 'postgres',
      location: `postgres://${url.host}${url.pathname}${schema !== undefined ? `#${schema}` : ''}`,
      close: () => db.destroy(),
    };
  }
  mkdirSync(opts.dataDir, { recursive: true });
  const file = join(opts.dataDir, 'keywarden.db');
  const sqlite = new SQLite(file);
  configureSqlite(sqlite);
  const writeTurns = newWriteTurns();
  const db = new Kysely<Database>({ dialect: new SharedSqliteDialect({ database: sqlite }, writeTurns) });
  return { db, dialect: 'sqlite', location: file, close: () => db.destroy(), sqlite, writeTurns };
}

/** Creates the PostgreSQL schema (if any) and applies pending migrations. */
export async function migrate(storage: Storage, schema?: string, keys?: ServerKeys): Promise<void> {
  if (storage.dialect === 'postgres' && schema !== undefined) {
    await storage.db.schema.createSchema(schema).ifNotExists().execute();
  }
  // Kysely looks for its bookkeeping tables in every schema unless told which one: name it, or a
  // second Keywarden schema in the same database would make it skip creating its own.
  const migrator = new Migrator({
    db: storage.db,
    provider: migrationProvider(storage.dialect, keys),
    ...(storage.dialect === 'postgres' ? { migrationTableSchema: schema ?? 'public' } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(
      `migration ${failed?.migrationName ?? '?'} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
      { cause: error },
    );
  }
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  'SQLITE_BUSY',
  'SQLITE_BUSY_SNAPSHOT',
]);

/** True when storage could not be reached (as opposed to a query it refused): answer 503, retry later. */
export function isStorageUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  const msg = (err as { message?: unknown }).message;
  return (
    typeof msg === 'string' &&
    /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED|Client has encountered a connection error|driver has already been destroyed/i.test(
      msg,
    )
  );
}

/** True when the error is a unique-constraint violation on either database. */
export function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
