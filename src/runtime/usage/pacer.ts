/**
 * When the usage batcher writes its events (docs/verification-log.md#writer-cpu).
 *
 * The writer's work is per distinct combination (key, client, …) per flush, not per call: with
 * many keys each called a few times a second, a 1 s flush writes nearly one row per call, and the
 * writer costs tens of µs per verification. Writing less often makes each row count more calls.
 * The pacer stretches the interval from `baseMs` up to `maxMs` only while the writer is both
 * costly per call (over `budgetUs` per verification) and costly in total (over `maxShare` of one
 * core), and only at `minRate` verifications a second or more: a quiet server keeps the base
 * interval and its freshness; a busy one trades freshness of the log, usage and `lastUsedAt` (and
 * what a kill loses of them) for the writer's CPU.
 *
 * Pure: the batcher reports each flush and asks for the next interval.
 */
export interface PacerOptions {
  /** The interval without load (`KEYWARDEN_USAGE_FLUSH_MS`). */
  baseMs: number;
  /** The longest interval (`KEYWARDEN_USAGE_FLUSH_MAX_MS`); at or below `baseMs`, the pacer never stretches. */
  maxMs: number;
  /** Writer time per verification to stretch for, in µs (`KEYWARDEN_USAGE_WRITER_BUDGET_NS` / 1000). */
  budgetUs: number;
  /** Share of one core the writer may take before stretching pays (0.01: 10 ms a second). */
  maxShare: number;
  /**
   * Verifications a second below which the base interval is kept whatever they cost: a few
   * hundred calls a second cost the writer a few percent of a core at most, and the time of a
   * flush on a remote database is mostly waiting, not CPU. Default 1000.
   */
  minRate?: number;
}

/** What one flush did: the events it wrote, the writer's time for them, and the interval they came from. */
export interface FlushReport {
  events: number;
  busyMs: number;
  intervalMs: number;
}

export class FlushPacer {
  private current: number;

  constructor(private readonly opts: PacerOptions) {
    this.current = opts.baseMs;
  }

  /** The interval until the next flush of events. */
  get intervalMs(): number {
    return this.current;
  }

  /**
   * Takes a flush's figures and returns the next interval. The writer's cost per flush is assumed
   * to stay what it was when the interval changes (it grows less than in proportion: the same
   * combinations come back), so the target is the shortest interval that meets either bound; the
   * step is the geometric mean of the current interval and the target, which damps noise.
   */
  next(r: FlushReport): number {
    const { baseMs, maxMs, budgetUs, maxShare } = this.opts;
    if (maxMs <= baseMs) return (this.current = baseMs);
    let target = baseMs;
    if (r.events > 0 && r.busyMs > 0 && (r.events * 1000) / r.intervalMs >= (this.opts.minRate ?? 1000)) {
      // Shortest interval at which the cost per call is within budget, at the same calls per ms,
      // aiming at three quarters of it: a flush's cost varies by a quarter from one to the next on
      // a shared host, and the budget is a bound, not an average…
      const perCallUs = (r.busyMs * 1000) / r.events;
      const forBudget = r.intervalMs * (perCallUs / (budgetUs * 0.75));
      // …and at which the same busy time is within the share of a core.
      const share = r.busyMs / r.intervalMs;
      const forShare = r.busyMs / maxShare;
      target = Math.min(forBudget, forShare);
      // A dead band: shorter again only once the writer is well within a bound (half of it), so
      // the interval settles with the cost under the budget instead of hovering around it.
      if (target < this.current && perCallUs > budgetUs / 2 && share > maxShare / 2) target = this.current;
    }
    target = Math.min(maxMs, Math.max(baseMs, target));
    // Within 2% of the target: there (the geometric steps only approach it).
    const step = Math.abs(target - this.current) <= target * 0.02 ? target : Math.sqrt(this.current * target);
    this.current = Math.min(maxMs, Math.max(baseMs, Math.round(step)));
    return this.current;
  }
}
