import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Storage } from '../../../storage/db.js';
import { getMeta } from '../../../storage/meta-repo.js';
import { workerDone } from '../../../storage/sqlite/write-turns.js';
import type { Metrics } from '../../metrics.js';
import { sliceEvents } from '../events.js';
import { InProcessWriter } from './in-process.js';
import { skipEvents, type FlushJob, type JobProgress, type JobResult, type UsageWriter } from './port.js';
import {
  PROGRESS_MARKER,
  parseProgress,
  type ToWorker,
  type WorkerDone,
  type WorkerOptions,
} from './worker-protocol.js';

export interface WorkerWriterOptions {
  /** Events per transaction (see `runJob`). */
  rowsPerTransaction: number;
  /** Rows per minute at most (`KEYWARDEN_LOG_MAX_ROWS_PER_MINUTE`), the rest in overflow rows. */
  maxRowsPerMinute: number;
  /** Deaths in a row after which the writes move to the main thread for good. */
  maxCrashes?: number;
}

type Outcome = WorkerDone | { type: 'died'; reason: string };

const WORKER_FILE = new URL('./worker-entry.js', import.meta.url);

const add = (a: JobResult, b: JobResult): JobResult => {
  const refused =
    a.refused === undefined || b.refused === undefined
      ? (a.refused ?? b.refused)
      : { salvaged: a.refused.salvaged + b.refused.salvaged, reason: a.refused.reason };
  return {
    extras: a.extras || b.extras,
    events: a.events + b.events,
    overflowed: (a.overflowed ?? 0) + (b.overflowed ?? 0),
    ...(refused !== undefined ? { refused } : {}),
  };
};

/**
 * SQLite's usage writes on a worker thread with its own connection to the database file, so the
 * transaction (log rows, counters, the commit and its WAL checkpoints) no longer holds the event
 * loop that answers verifications. The main thread hands over encoded columns (../events.ts);
 * the thread builds rows and counters and writes them. Measurements and guarding tests:
 * docs/hot-path.md#usage-writes-on-a-worker-thread.
 *
 * A thread that dies (an uncaught error, killed) is logged, counted in
 * `keywarden_job_runs_total{job="usage_writer",outcome="died"}` and replaced, and the job goes on
 * from where it stopped: each transaction also writes the job's progress (`PROGRESS_MARKER`),
 * which the server reads back, so nothing is lost or written twice. After `maxCrashes` deaths in
 * a row the writes move to the main thread (`InProcessWriter`) for the life of the process.
 */
export class WorkerWriter implements UsageWriter {
  private worker: Worker | undefined;
  private waiting: ((o: Outcome) => void) | undefined;
  private crashes = 0;
  private attempt = 0;
  private fallback: InProcessWriter | undefined;
  private closing = false;
  private readonly rowsPerTransaction: number;
  private readonly maxRowsPerMinute: number;
  private readonly maxCrashes: number;

  constructor(
    private readonly storage: Storage,
    private readonly file: string,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    opts: WorkerWriterOptions,
  ) {
    this.rowsPerTransaction = opts.rowsPerTransaction;
    this.maxRowsPerMinute = opts.maxRowsPerMinute;
    this.maxCrashes = opts.maxCrashes ?? 3;
  }

  /** The running thread, if any (tests and diagnostics). */
  get thread(): Worker | undefined {
    return this.worker;
  }

  /** True once the writes moved to the main thread. */
  get inProcess(): boolean {
    return this.fallback !== undefined;
  }

  async write(job: FlushJob): Promise<JobResult> {
    let done: JobResult = { extras: false, events: 0 };
    let rest = job;
    for (;;) {
      if (this.fallback !== undefined) {
        const r = await this.fallback.write(rest);
        return { ...add(done, r), ...(r.error !== undefined ? { error: r.error } : {}) };
      }
      let out: Outcome;
      try {
        out = await this.send(rest);
      } catch (err) {
        // The thread could not be started (nothing sent): the rest stays with the batcher.
        return { ...done, error: err instanceof Error ? err : new Error(String(err)) };
      }
      if (out.type === 'done') {
        this.crashes = 0;
        const error =
          out.error === null
            ? undefined
            : Object.assign(new Error(out.error.message), { code: out.error.code });
        const got = {
          extras: out.extras,
          events: out.events,
          overflowed: out.overflowed,
          ...(out.refused !== null ? { refused: out.refused } : {}),
        };
        return { ...add(done, got), ...(error !== undefined ? { error } : {}) };
      }
      // The thread died during the job: what it committed is in the marker, in the same transactions.
      this.crashes++;
      this.metrics.jobRuns.labels('usage_writer', 'died').inc();
      const committed = await this.committed(rest.token);
      done = add(done, committed);
      rest = {
        token: `${job.token}.${++this.attempt}`,
        batches: skipEvents(rest.batches, committed.events),
        extras: committed.extras ? null : rest.extras,
      };
      if (this.crashes >= this.maxCrashes) {
        this.fallback = new InProcessWriter(this.storage, this.rowsPerTransaction, this.maxRowsPerMinute);
        this.metrics.jobRuns.labels('usage_writer', 'fallback').inc();
        this.log.error(
          { reason: out.reason, deaths: this.crashes },
          'usage writer thread died repeatedly; usage is written on the main thread from now on',
        );
      } else {
        this.log.error(
          { reason: out.reason },
          'usage writer thread died; restarting it and resuming the batch',
        );
      }
    }
  }

  /** Sends one job and waits for its answer or the thread's death. */
  private send(job: FlushJob): Promise<Outcome> {
    const w = this.start();
    // Compact copies of what is left, transferred (not cloned); the batcher keeps the originals
    // until the commit, so a thread that dies loses nothing.
    const transfer: ArrayBuffer[] = [];
    const batches = job.batches.map((b) => {
      const events = sliceEvents(b.events, b.from);
      transfer.push(events.nums.buffer as ArrayBuffer, events.refs.buffer as ArrayBuffer);
      return { events, from: 0 };
    });
    const outcome = new Promise<Outcome>((resolve) => {
      this.waiting = resolve;
    });
    try {
      w.postMessage({ type: 'job', job: { ...job, batches } } satisfies ToWorker, transfer);
    } catch (err) {
      // Not sent (nothing written): the batch stays with the batcher.
      this.waiting = undefined;
      const error = { message: (err as Error).message, code: undefined };
      return Promise.resolve({
        type: 'done',
        token: job.token,
        extras: false,
        events: 0,
        overflowed: 0,
        refused: null,
        error,
      });
    }
    // Referenced while a job is out, so the process does not exit before its commit is known.
    w.ref();
    return outcome.finally(() => {
      if (this.worker === w) w.unref();
    });
  }

  /** Hands the outcome to the job waiting for it, once. */
  private settle(o: Outcome): boolean {
    const resolve = this.waiting;
    this.waiting = undefined;
    resolve?.(o);
    return resolve !== undefined;
  }

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    const workerData: WorkerOptions = {
      file: this.file,
      writeTurns: this.storage.writeTurns ?? null,
      rowsPerTransaction: this.rowsPerTransaction,
      maxRowsPerMinute: this.maxRowsPerMinute,
    };
    const w = new Worker(WORKER_FILE, { workerData });
    w.unref();
    let reason = 'exited';
    w.on('message', (m: WorkerDone) => {
      this.settle(m);
    });
    w.on('error', (err) => {
      reason = err.message;
    });
    w.on('messageerror', (err) => {
      reason = err.message;
      void w.terminate();
    });
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = undefined;
      // A thread that died inside a transaction never gave its turn back.
      if (this.storage.writeTurns !== undefined) workerDone(this.storage.writeTurns);
      if (this.settle({ type: 'died', reason: `${reason} (exit code ${code})` })) return;
      if (!this.closing) {
        this.metrics.jobRuns.labels('usage_writer', 'died').inc();
        this.log.error(
          { reason, code },
          'usage writer thread exited while idle; a new one starts at the next flush',
        );
      }
    });
    this.worker = w;
    return w;
  }

  /** What the marker says was committed of `token`; on a read failure, nothing (a retry may count twice, never loses). */
  private async committed(token: string): Promise<JobProgress> {
    try {
      return parseProgress(await getMeta(this.storage.db, PROGRESS_MARKER), token);
    } catch (err) {
      this.log.error(
        { err: (err as Error).message },
        'cannot read the usage writer progress after its thread died; the batch is written again in full',
      );
      return { extras: false, events: 0 };
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    const w = this.worker;
    if (w === undefined) return;
    const exited = new Promise<void>((resolve) => {
      w.once('exit', () => {
        resolve();
      });
    });
    w.ref();
    w.postMessage({ type: 'close' } satisfies ToWorker);
    // The thread closes its connection and exits; a stuck one is stopped.
    const timer = setTimeout(() => void w.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }
}
