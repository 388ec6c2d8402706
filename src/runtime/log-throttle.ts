/**
 * Repeated log lines, rate limited: the first line of a cause is written at once, later ones
 * within `intervalMs` are only counted, and the next line written for that cause carries how many
 * were left out (`repeated`). An outage that fails thousands of requests a second so writes one
 * line per cause per interval; metrics keep counting every event. `intervalMs` 0 writes every line.
 */
export class LogThrottle {
  private readonly causes = new Map<string, { lastAtMs: number; suppressed: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
    /** Causes tracked at once (a bound on memory; the oldest is forgotten first). */
    private readonly maxCauses = 1000,
  ) {}

  /**
   * Whether to write a line for `cause` now: undefined to skip it, else the number of lines of
   * that cause left out since the last one written (0 for none).
   */
  admit(cause: string): number | undefined {
    if (this.intervalMs === 0) return 0;
    const now = this.now();
    const c = this.causes.get(cause);
    if (c === undefined) {
      if (this.causes.size >= this.maxCauses) {
        const oldest = this.causes.keys().next().value;
        if (oldest !== undefined) this.causes.delete(oldest);
      }
      this.causes.set(cause, { lastAtMs: now, suppressed: 0 });
      return 0;
    }
    if (now - c.lastAtMs < this.intervalMs) {
      c.suppressed++;
      return undefined;
    }
    const suppressed = c.suppressed;
    c.lastAtMs = now;
    c.suppressed = 0;
    return suppressed;
  }
}
