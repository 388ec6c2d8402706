/**
 * The usage writer's thread (started by worker-thread.ts on SQLite): its own connection to the
 * server's database file, set up like the server's, builds each job's log rows and counters and
 * writes them with the same prepared statements as the in-process path (storage/sqlite/usage-statements.ts).
 * Jobs run one at a time, in the order they arrive. Why a thread: docs/hot-path.md#usage-writes-on-a-worker-thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { SQLITE_BUSY_TIMEOUT_MS, configureSqlite } from '../../../storage/sqlite/pragmas.js';
import type { UsageBatch } from '../../../storage/usage-batch.js';
import { writeUsageRowsSqlite } from '../../../storage/sqlite/usage-statements.js';
import { workerBegins, workerDone } from '../../../storage/sqlite/write-turns.js';
import { MinuteLog } from '../minutes.js';
import { runJob, type FlushJob, type JobProgress } from './port.js';
import {
  PROGRESS_MARKER,
  formatProgress,
  type ToWorker,
  type WorkerDone,
  type WorkerOptions,
} from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('worker-entry.js runs as a worker thread');
const opts = workerData as WorkerOptions;
/** The row ids of recent minutes: calls of one combination add up across this thread's jobs. */
const minutes = new MinuteLog(opts.maxRowsPerMinute);

type Transaction = (b: UsageBatch, progress: string) => void;
let db: SQLite.Database | undefined;
let transaction: Transaction | undefined;

/** Opened at the first job (and again after a failure to open), so an error goes back as a job's. */
function writeTransaction(): Transaction {
  if (db === undefined || transaction === undefined) {
    const conn = new SQLite(opts.file, { fileMustExist: true });
    try {
      configureSqlite(conn);
      const marker = conn.prepare(`insert into meta (name, value) values (?, ?)
        on conflict (name) do update set value = excluded.value`);
      // `immediate`: the write lock first (waiting up to the busy timeout), as the server's
      // transactions do, so neither side fails on the other's commit.
      const tx = conn.transaction((b: UsageBatch, progress: string) => {
        writeUsageRowsSqlite(conn, b);
        marker.run(PROGRESS_MARKER, progress);
      });
      transaction = (b, progress) => {
        tx.immediate(b, progress);
      };
      db = conn;
    } catch (err) {
      conn.close();
      throw err;
    }
  }
  return transaction;
}

async function write(job: FlushJob): Promise<WorkerDone> {
  const r = await runJob(
    job,
    (b: UsageBatch, done: JobProgress) => {
      const tx = writeTransaction();
      const turns = opts.writeTurns;
      // The server's writes go first, and wait for this one transaction at most (storage/sqlite/write-turns.ts).
      if (turns !== null) workerBegins(turns, SQLITE_BUSY_TIMEOUT_MS);
      try {
        // The marker commits with the rows: after a crash, the server reads what was written.
        tx(b, formatProgress(job.token, done));
      } finally {
        if (turns !== null) workerDone(turns);
      }
    },
    opts.rowsPerTransaction,
    minutes,
  );
  const code = (r.error as { code?: unknown } | undefined)?.code;
  return {
    type: 'done',
    token: job.token,
    extras: r.extras,
    events: r.events,
    overflowed: r.overflowed ?? 0,
    refused: r.refused ?? null,
    error:
      r.error === undefined
        ? null
        : { message: r.error.message, code: typeof code === 'string' ? code : undefined },
  };
}

let queue = Promise.resolve();
port.on('message', (m: ToWorker) => {
  queue = queue
    .then(async () => {
      if (m.type === 'job') {
        port.postMessage(await write(m.job));
        return;
      }
      db?.close();
      db = undefined;
      // Nothing else keeps the thread alive: it exits.
      port.close();
    })
    .catch((err: unknown) => {
      // Unexpected (a job's errors are in its answer): the thread dies and the server takes over.
      setImmediate(() => {
        throw err;
      });
    });
});
