import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Limiter, UsageSink, VerificationEvent } from '../../core/ports.js';
import { emptyBatch, isEmptyBatch, mergeCounters } from '../../storage/usage-batch.js';
import type { Metrics } from '../metrics.js';
import { IsoClock, countEvent } from './counting.js';
import { EventColumns } from './events.js';
import { MinuteLog, RowSpill } from './minutes.js';
import { FlushPacer } from './pacer.js';
import type { VerifyEventLines } from './verify-events.js';
import type { Refused } from './writer/refusals.js';
import {
  countEvents,
  skipEvents,
  type FlushJob,
  type JobResult,
  type PendingBatch,
  type UsageWriter,
} from './writer/port.js';

export interface BatcherOptions {
  /** The interval between writes without load; credit use is written at least this often. */
  flushIntervalMs: number;
  /**
   * The longest interval between writes of events under load (pacer.ts); absent or at most
   * `flushIntervalMs`: every interval.
   */
  flushMaxMs?: number;
  /** Writer time per verification the interval is stretched to meet (default 1000 ns). */
  writerBudgetNs?: number;
  /**
   * Events kept encoded in memory at most; past it (storage down for long) events are aggregated
   * into minute rows on the main thread instead (costlier per call, bounded in memory).
   */
  maxBufferedLogs: number;
  /** Rows per minute at most for the events aggregated here (`KEYWARDEN_LOG_MAX_ROWS_PER_MINUTE`). */
  maxRowsPerMinute?: number;
  /** One JSON line per verification (`KEYWARDEN_VERIFY_EVENTS`), if configured. */
  events?: VerifyEventLines | undefined;
}

/**
 * Turns verifications into usage counters and log rows without a write per call: events are
 * kept in memory (encoded, events.ts) and written at least every `flushIntervalMs`, and on
 * graceful shutdown, by a `UsageWriter`: a worker thread on SQLite, so the transaction does not
 * hold the event loop; in process on PostgreSQL. The writer aggregates them into the log's minute
 * rows (minutes.ts). What an abrupt kill (SIGKILL, power loss) loses is bounded by one
 * interval of events (and the batch being written); while storage is down, at most
 * `maxBufferedLogs` events are kept encoded, and the events beyond that are aggregated into minute
 * rows and counters here (counted in `dropped`: their encoded form was dropped, never their count).
 * Design reasons and measurements: docs/hot-path.md#usage-events-as-columns.
 */
export class UsageBatcher implements UsageSink {
  private pending = new EventColumns();
  /** Batches not yet written, oldest first; `from` of them already are. Kept until committed. */
  private queue: PendingBatch[] = [];
  private queued = 0;
  /** Counters of events not kept encoded (buffer full), not yet written. */
  private overflow = emptyBatch();
  /** Their minute rows. */
  private readonly spill: RowSpill;
  private readonly iso = new IsoClock();
  private readonly timer: NodeJS.Timeout;
  private readonly pacer: FlushPacer;
  /** When the events are written next (performance.now()), and when they last were. */
  private eventsDueAt: number;
  private eventsFlushedAt: number;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly nonce = randomBytes(6).toString('hex');
  private jobs = 0;
  dropped = 0;

  constructor(
    /** Public for tests and diagnostics. */
    readonly writer: UsageWriter,
    private readonly limiter: Limiter,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly opts: BatcherOptions,
  ) {
    this.spill = new RowSpill(new MinuteLog(opts.maxRowsPerMinute ?? 50_000));
    this.pacer = new FlushPacer({
      baseMs: opts.flushIntervalMs,
      maxMs: opts.flushMaxMs ?? opts.flushIntervalMs,
      budgetUs: (opts.writerBudgetNs ?? 1000) / 1000,
      maxShare: 0.01,
    });
    this.eventsFlushedAt = performance.now();
    this.eventsDueAt = this.eventsFlushedAt + opts.flushIntervalMs;
    this.metrics.usageFlushInterval.set(opts.flushIntervalMs / 1000);
    // Ticks at the base interval: the events when they are due (or the buffer is 90% full), else
    // only the extras (credit use and what was aggregated here), so credits lag one base interval.
    this.timer = setInterval(() => {
      // Due within half a tick counts as due (ticks and due times drift apart by a flush's duration).
      const eventsToo =
        performance.now() >= this.eventsDueAt - opts.flushIntervalMs / 2 ||
        this.pending.length + this.queued >= opts.maxBufferedLogs * 0.9;
      void this.enqueue(eventsToo ? 'tick' : 'extras');
    }, opts.flushIntervalMs);
    this.timer.unref();
  }

  /** The interval the events are written at now (pacer.ts). */
  get flushIntervalMs(): number {
    return this.pacer.intervalMs;
  }

  /**
   * The hot path: encodes the event into the columns and returns. Rows and counters are built by
   * the writer, off the verification's latency. Past the buffer bound, only the counters are kept.
   */
  record(e: VerificationEvent): void {
    if (this.pending.length + this.queued < this.opts.maxBufferedLogs) {
      this.pending.push(e);
    } else {
      this.dropped++;
      countEvent(this.overflow, e, this.iso);
      this.spill.add(e);
    }
    this.opts.events?.push(e);
  }

  /**
   * Writes what has accumulated and resolves once it is committed (or the write failed: then it
   * is kept for the next try). Flushes never overlap.
   */
  flush(): Promise<void> {
    return this.enqueue('asked');
  }

  /**
   * `tick`: the timer's write of events, which the pacer learns from; `asked`: a flush() (shutdown,
   * an API call that needs its usage written), which writes the events without changing the pace;
   * `extras`: the timer's write of credits only.
   */
  private enqueue(kind: 'tick' | 'asked' | 'extras'): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushOnce(kind));
    return this.flushing;
  }

  private async flushOnce(kind: 'tick' | 'asked' | 'extras'): Promise<void> {
    const eventsToo = kind !== 'extras';
    if (eventsToo && this.pending.length > 0) {
      const events = this.pending.seal();
      this.queue.push({ events, from: 0 });
      this.queued += events.n;
      this.pending = new EventColumns(Math.max(1024, events.n));
    }
    const extras = this.overflow;
    this.overflow = emptyBatch();
    extras.logs = this.spill.drain();
    const spilled = this.spill.overflowed;
    this.spill.overflowed = 0;
    extras.credits = this.limiter.drainCreditUse();
    const hasExtras = !isEmptyBatch(extras);
    const started = performance.now();
    const batches = eventsToo ? this.queue.map((b) => ({ events: b.events, from: b.from })) : [];
    // No events this interval: the pacer steps back towards the base interval.
    if (eventsToo && batches.length === 0) this.paced(started, 0, 0, kind === 'tick');
    if (batches.length === 0 && !hasExtras) return;
    const job: FlushJob = {
      token: `${this.nonce}.${++this.jobs}`,
      batches,
      extras: hasExtras ? extras : null,
    };
    const end = this.metrics.usageFlushDuration.startTimer();
    // Writers report failures in their result; anything thrown is treated as nothing written.
    const r: JobResult = await this.writer.write(job).catch((err: unknown) => ({
      extras: false,
      events: 0,
      error: err instanceof Error ? err : new Error(String(err)),
    }));
    end();
    // A failed write is retried at the next tick; a committed one sets when the next is due.
    if (batches.length > 0) {
      if (r.error === undefined) this.paced(started, r.events, performance.now() - started, kind === 'tick');
      else this.eventsDueAt = started;
    }
    // Only `pending` grew meanwhile: the queue is still the job's batches.
    this.queue = skipEvents(this.queue, r.events);
    this.queued = countEvents(this.queue);
    if (hasExtras && !r.extras) {
      this.limiter.restoreCreditUse(extras.credits);
      extras.credits = new Map();
      mergeCounters(this.overflow, extras);
      this.spill.restore(extras.logs);
      this.spill.overflowed += spilled;
    } else if (spilled > 0) this.metrics.logOverflow.inc(spilled);
    if ((r.overflowed ?? 0) > 0) this.metrics.logOverflow.inc(r.overflowed);
    if (r.refused !== undefined) this.refused(r.refused);
    if (r.error === undefined) {
      this.metrics.jobRuns.labels('usage_flush', 'ok').inc();
    } else {
      this.metrics.jobRuns.labels('usage_flush', 'error').inc();
      this.log.warn(
        { err: r.error.message, written: r.events, rows: this.queued },
        'usage flush failed; kept for the next try',
      );
    }
    this.metrics.usageQueueDepth.set(this.queued + this.pending.length);
  }

  /** Calls the database refused to store as they were (writer/refusals.ts), written without their details. */
  private refused(x: Refused): void {
    this.metrics.usageSalvaged.inc(x.salvaged);
    this.log.warn(
      { reason: x.reason, calls: x.salvaged },
      'the database refused usage rows as they were: those calls are counted without their details',
    );
  }

  /**
   * Schedules the next write of events after this one (started at `started`); the pacer learns
   * from what a timer's write (`learn`) wrote and cost (pacer.ts).
   */
  private paced(started: number, events: number, busyMs: number, learn: boolean): void {
    const ms = learn
      ? this.pacer.next({ events, busyMs, intervalMs: started - this.eventsFlushedAt })
      : this.pacer.intervalMs;
    this.metrics.usageFlushInterval.set(ms / 1000);
    this.eventsFlushedAt = started;
    this.eventsDueAt = started + ms;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.flush();
    await this.writer.close();
    await this.opts.events?.close();
  }
}
