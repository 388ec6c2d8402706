/**
 * The usage writer port: the contract between the usage batcher (../batcher.ts) and what writes its
 * batches, and the loop every writer runs. Its adapters sit beside it: in-process.ts (the calling
 * thread) and worker-thread.ts (a worker thread, entry worker-entry.ts); create.ts picks one.
 * Imports no storage driver: the worker thread loads this file too. Why the writes run on a worker thread, and in transactions of this
 * size: docs/hot-path.md (#usage-writes-on-a-worker-thread, #usage-transaction-size).
 */
import { emptyBatch, isEmptyBatch, mergeCounters, type UsageBatch } from '../../../storage/usage-batch.js';
import { IsoClock } from '../counting.js';
import { EventDecoder } from '../decoder.js';
import type { EncodedEvents } from '../events.js';
import type { MinuteLog } from '../minutes.js';
import { isRefusal, refusalReason, salvaged, type Refused } from './refusals.js';

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
  /** Calls whose transaction the database refused (refusals.ts), if any. */
  refused?: Refused;
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
 * A transaction the database refuses for what it holds (`isRefusal`) is split in halves, each
 * committed on its own, down to the one call it refuses, which is committed `salvaged` (its count
 * without its caller-chosen details): the log does not stop on a caller's bad value (refusals.ts).
 * The job's extras are split off first and salvaged likewise. What is refused even salvaged stops
 * the job like any failure, kept for the next try: nothing is dropped.
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
  let refused: Refused | undefined;
  let isolated = 0;
  /** Transactions refused so far in the job. */
  let refusals = 0;
  const clock = new IsoClock();
  const refusal = (err: Error, calls: number): void => {
    refused ??= { salvaged: 0, reason: refusalReason(err) };
    refused.salvaged += calls;
  };
  /** Commits `b` as the transaction reaching `next`; returns the refusal, throws any other failure. */
  const attempt = async (
    b: UsageBatch,
    next: JobProgress,
    overflowedCalls: number,
  ): Promise<Error | undefined> => {
    try {
      await commit(b, next);
    } catch (err) {
      if (isRefusal(err) && err instanceof Error) return err;
      throw err;
    }
    done = next;
    overflowed += overflowedCalls;
    return undefined;
  };
  /** The extras on their own, salvaged if refused. */
  const extrasAlone = async (extras: UsageBatch): Promise<void> => {
    const b = emptyBatch();
    withExtras(b, extras);
    const next = { extras: true, events: done.events };
    const err = await attempt(b, next, 0);
    if (err === undefined) return;
    const again = await attempt(salvaged(b), next, 0);
    if (again !== undefined) throw again;
    refusal(
      err,
      b.logs.reduce((n, r) => n + r.count, 0),
    );
  };
  try {
    for (const { events, from } of job.batches) {
      const decoder = new EventDecoder(events, clock, minutes);
      /** Events `i` to `to` (fewer if more rows than allowed) as one transaction, split when refused. */
      const put = async (i: number, to: number, maxRows: number, whole = false): Promise<number> => {
        const b = emptyBatch();
        const extras = !done.extras && job.extras !== null ? job.extras : null;
        if (extras !== null) withExtras(b, extras);
        decoder.overflowed = 0;
        // As many events as make at most `maxRows` rows: a flush's calls of one combination add up
        // in one row write, however many calls the flush holds.
        const end = decoder.decode(b, i, to, maxRows);
        const next = { extras: true, events: done.events + (end - i) };
        const err = await attempt(b, next, decoder.overflowed);
        if (err === undefined) return end;
        refusals++;
        // Nothing of it is stored: the ids its decode handed out go, so that its parts, written on
        // their own, get ids of their own first calls (MinuteLog.forgetBatch).
        minutes.forgetBatch();
        if (extras !== null) {
          await extrasAlone(extras);
          await putAll(i, end, false);
          return end;
        }
        // One call refused alone, or a part to be salvaged whole: its calls counted without their
        // details. Refused even so, the refusal is not about what callers chose (a column the
        // server's own values no longer fit, a schema a newer node changed): the job stops there,
        // kept for the next try, as for an outage.
        if (end - i === 1 || whole) {
          if (end - i === 1) isolated++;
          const again = await attempt(salvaged(b), next, decoder.overflowed);
          if (again !== undefined) throw again;
          refusal(err, end - i);
          return end;
        }
        // Split in halves down to the refused call. Past `MAX_ISOLATED` such calls in a job (many
        // rows refused: a constraint an operator added), in `PARTS` parts, a refused part again, down
        // to parts of `WHOLE_AT_MOST` calls salvaged whole; once half the parts of a range were
        // refused, its other refused parts are salvaged whole. A bounded number of transactions
        // (about 20 per scattered refused call, 120 per 1,000 calls when all are refused), and the
        // parts not refused keep their details.
        if (isolated < MAX_ISOLATED) {
          const mid = i + Math.floor((end - i) / 2);
          await putAll(i, mid, false);
          await putAll(mid, end, false);
        } else {
          const size = Math.ceil((end - i) / PARTS);
          let refusedParts = 0;
          for (let p = i; p < end; p += size) {
            const before = refusals;
            await putAll(p, Math.min(end, p + size), size <= WHOLE_AT_MOST || refusedParts >= PARTS / 2);
            if (refusals > before) refusedParts++;
          }
        }
        return end;
      };
      const putAll = async (i: number, to: number, whole: boolean): Promise<void> => {
        while (i < to) i = await put(i, to, Infinity, whole);
      };
      for (let i = from; i < events.n;) i = await put(i, events.n, rowsPerTransaction);
    }
    if (!done.extras && job.extras !== null) await extrasAlone(job.extras);
    return { ...done, overflowed, ...(refused !== undefined ? { refused } : {}) };
  } catch (err) {
    return {
      ...done,
      overflowed,
      ...(refused !== undefined ? { refused } : {}),
      error: err instanceof Error ? err : new Error(String(err)),
    };
  }
}

function withExtras(b: UsageBatch, extras: UsageBatch): void {
  mergeCounters(b, extras);
  for (const row of extras.logs) b.logs.push(row);
}

/** Calls a job isolates one by one, at most, and the parts a refused range is cut in past that (see `runJob`). */
const MAX_ISOLATED = 16;
const PARTS = 8;
const WHOLE_AT_MOST = 16;

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
