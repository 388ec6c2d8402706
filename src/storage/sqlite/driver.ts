import {
  CompiledQuery,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type SqliteDialectConfig,
} from 'kysely';
import { SQLITE_BUSY_TIMEOUT_MS } from './pragmas.js';
import { serverDone, serverWrites } from './write-turns.js';

/**
 * Kysely's SQLite dialect for a connection that shares its file with the usage writer's worker
 * thread (runtime/usage/writer/worker-entry.ts), which writes through a connection of its own:
 *
 * - Every write, and every transaction, first takes its turn (write-turns.ts): it waits without
 *   blocking the event loop for the end of the worker's current transaction, and holds the
 *   worker off until it is done.
 * - Transactions begin `immediate`. Kysely's plain `begin` is deferred: the write lock is taken
 *   at the first write, and a transaction that has read and then wants to write after the worker
 *   committed fails at once with SQLITE_BUSY_SNAPSHOT, which no busy timeout retries.
 *
 * Why the worker thread: docs/hot-path.md#usage-writes-on-a-worker-thread.
 */
export class SharedSqliteDialect extends SqliteDialect {
  constructor(
    private readonly config: SqliteDialectConfig,
    private readonly turns: Int32Array,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new SharedSqliteDriver(this.config, this.turns);
  }
}

/** Reads need no turn (WAL: readers never wait for the writer). */
const isWrite = (q: CompiledQuery): boolean =>
  q.query.kind === 'SelectQueryNode'
    ? false
    : q.query.kind !== 'RawNode' || !/^\s*(select|pragma)\b/i.test(q.sql);

class SharedSqliteDriver extends SqliteDriver {
  /** True from `begin` to `commit`/`rollback`: the transaction's queries run in its turn. */
  private inTransaction = false;

  constructor(
    config: SqliteDialectConfig,
    private readonly turns: Int32Array,
  ) {
    super(config);
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const conn = await super.acquireConnection();
    return {
      executeQuery: async <R>(q: CompiledQuery): Promise<QueryResult<R>> => {
        if (this.inTransaction || !isWrite(q)) return conn.executeQuery<R>(q);
        await serverWrites(this.turns, SQLITE_BUSY_TIMEOUT_MS);
        try {
          return await conn.executeQuery<R>(q);
        } finally {
          serverDone(this.turns);
        }
      },
      streamQuery: <R>(q: CompiledQuery, chunkSize?: number) => conn.streamQuery<R>(q, chunkSize),
    };
  }

  override async beginTransaction(conn: DatabaseConnection): Promise<void> {
    await serverWrites(this.turns, SQLITE_BUSY_TIMEOUT_MS);
    this.inTransaction = true;
    try {
      await conn.executeQuery(CompiledQuery.raw('begin immediate'));
    } catch (err) {
      this.endTransaction();
      throw err;
    }
  }

  override async commitTransaction(conn: DatabaseConnection): Promise<void> {
    // A failed commit is followed by Kysely's rollback, which ends the turn.
    await super.commitTransaction(conn);
    this.endTransaction();
  }

  override async rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    try {
      await super.rollbackTransaction(conn);
    } finally {
      this.endTransaction();
    }
  }

  private endTransaction(): void {
    this.inTransaction = false;
    serverDone(this.turns);
  }
}
