/**
 * The usage writer port: the contract between the usage batcher (../batcher.ts) and what writes its
 * batches, and the loop every writer runs. Its adapters sit beside it: in-process.ts (the calling
 * thread) and worker-thread.ts (a worker thread, entry worker-entry.ts); create.ts picks one.
 * Imports no storage driver: the worker thread loads this file too. Why the writes run on a worker thread, and in transactions of this
 * size: docs/hot-path.md (#usage-writes-on-a-worker-thread, #usage-transaction-size).
 */
import { emptyBatch, isEmptyBatch, mergeCounters, type UsageBatch } from '../../../storage/usage-batch.js';
import { EventDecoder, IsoClock, type EncodedEvents } from '../events.js';
import type { MinuteLog } from '../minutes.js';

/**
 * What one flush hands to the writer: the events not yet written, oldest first (a batch that
 * failed before is resent from where it stopped), and the extras: counters of events whose log
 * rows were dropped (buffer full) and the credit uses drained from the limiter.
 */
export interface FlushJob {
  /** Unique per job; the worker thread records its progress under it (see worker-thread.ts). */
  token: string;
  batches: { events: EncodedEvents; from: number }[];
  /**
   * Written in the job's first transaction: counters, credits and minute rows of the events not kept
   * encoded (buffer full), already aggregated on the main thread.
   */
  extras: UsageBatch | null;
}

/** How much of a job is committed: the extras or not, and the first `events` events, in order. */
export interface JobProgress {
  extras: boolean;
  events: number;
}

/** A job's outcome: what was committed, and the error that stopped the rest (kept for a retry). */
export interface JobResult extends JobProgress {
  error?: Error;
  /** Calls of the committed events counted in overflow rows (the minute's row cap was reached). */
  overflowed?: number;
}

/**
 * Writes flush jobs. Jobs never overlap (the batcher waits for each), and `write` resolves with
 * exactly what was committed, never rejects.
 */
export interface UsageWriter {
  write(job: FlushJob): Promise<JobResult>;
  close(): Promise<void>;
}

/**
 * Runs a job as transactions of at most `rowsPerTransaction` log rows (distinct combinations per
 * minute; any number of events each): builds each one's log rows and counters (`EventDecoder`) and
 * hands it to `commit`, with the progress it completes. Stops at the first failure and reports what
 * was committed before it. A transaction covers consecutive events, so progress is an event count.
 *
 * The size (`KEYWARDEN_USAGE_ROWS_PER_TRANSACTION`) is a trade-off. A transaction holds SQLite's
 * write lock, and an admin write waits for the one in progress (asynchronously, see
 * storage/sqlite/write-turns.ts); smaller ones cost more per row, as each commit writes every index page
 * it touched and the log's key index is touched at scattered places (docs/hot-path.md has the
 * figures). Each transaction carries its own rows' counters, so what is committed is always
 * consistent, and a failure stops at a transaction boundary.
 */
export async function runJob(
  job: FlushJob,
  commit: (b: UsageBatch, done: JobProgress) => void | Promise<void>,
  rowsPerTransaction: number,
  minutes: MinuteLog,
): Promise<JobResult> {
  let done: JobProgress = { extras: job.extras === null || isEmptyBatch(job.extras), events: 0 };
  let overflowed = 0;
  const clock = new IsoClock();
  const withExtras = (b: UsageBatch, extras: UsageBatch): void => {
    mergeCounters(b, extras);
    for (const row of extras.logs) b.logs.push(row);
  };
  try {
    for (const { events, from } of job.batches) {
      const decoder = new EventDecoder(events, clock, minutes);
      for (let i = from; i < events.n;) {
        const b = emptyBatch();
        if (!done.extras && job.extras !== null) withExtras(b, job.extras);
        decoder.overflowed = 0;
        // As many events as make at most `rowsPerTransaction` rows: a flush's calls of one
        // combination add up in one row write, however many calls the flush holds.
        const to = decoder.decode(b, i, events.n, rowsPerTransaction);
        const next = { extras: true, events: done.events + (to - i) };
        await commit(b, next);
        done = next;
        overflowed += decoder.overflowed;
        i = to;
      }
    }
    if (!done.extras && job.extras !== null) {
      const b = emptyBatch();
      withExtras(b, job.extras);
      const next = { extras: true, events: done.events };
      await commit(b, next);
      done = next;
    }
    return { ...done, overflowed };
  } catch (err) {
    return { ...done, overflowed, error: err instanceof Error ? err : new Error(String(err)) };
  }
}

export type PendingBatch = FlushJob['batches'][number];

/** The batches left once the first `events` of them are written (the entries are new objects). */
export function skipEvents(batches: readonly PendingBatch[], events: number): PendingBatch[] {
  const out: PendingBatch[] = [];
  let skip = events;
  for (const b of batches) {
    const left = b.events.n - b.from;
    if (skip >= left) skip -= left;
    else {
      out.push({ events: b.events, from: b.from + skip });
      skip = 0;
    }
  }
  return out;
}

/** Events in batches not yet written. */
export const countEvents = (batches: readonly PendingBatch[]): number =>
  batches.reduce((n, b) => n + b.events.n - b.from, 0);
