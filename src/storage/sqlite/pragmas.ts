/**
 * How every Keywarden connection to a SQLite file is set up: the server's own (db.ts) and the
 * usage writer's worker thread (runtime/usage/writer/worker-entry.ts). Kept apart from db.ts so the
 * worker does not load the PostgreSQL driver and Kysely. Why these pragmas:
 * docs/hot-path.md#usage-statements-prepared-once.
 */

/** The slice of better-sqlite3 the pragmas need. */
interface Pragmas {
  pragma(source: string): unknown;
}

/**
 * How long a connection waits for another one's write lock before SQLITE_BUSY. Two connections
 * write to the file (the server's for admin actions, the worker's for usage batches, which keeps
 * each of its transactions to a few thousand rows): a wait is milliseconds, this is the bound.
 */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

export function configureSqlite(db: Pragmas): void {
  // WAL: readers never block the writer; NORMAL sync is durable across process crashes in WAL mode.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  db.pragma('foreign_keys = ON');
  // 64 MiB of page cache (the default is 2 MiB): the verification log's indexes take a row each per
  // verification at scattered positions (by key), and a miss costs a read from the OS cache.
  db.pragma('cache_size = -65536');
}
