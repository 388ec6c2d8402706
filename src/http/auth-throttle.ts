/**
 * Failed-authentication throttling (docs/security.md). Failures are counted per client address
 * and per presented admin-key prefix in fixed one-minute windows; past `limit` failures in a
 * window, that address (or prefix) is answered 429 until the window ends, whatever it presents.
 * In memory, per node: a cluster of N nodes allows at most N times the limit.
 *
 * The verify hot path only pays `blocked()`, which returns at once while nothing has failed.
 */
export interface AuthThrottleOptions {
  /** Failures allowed per window and subject; 0 turns throttling off. */
  limit: number;
  windowMs?: number;
  /** Subjects tracked at most (oldest dropped first), so a spray of addresses cannot grow memory. */
  maxSubjects?: number;
  now?: () => number;
}

interface Window {
  start: number;
  failures: number;
}

export class AuthThrottle {
  private readonly windows = new Map<string, Window>();
  private readonly windowMs: number;
  private readonly maxSubjects: number;
  private readonly now: () => number;

  constructor(private readonly opts: AuthThrottleOptions) {
    this.windowMs = opts.windowMs ?? 60_000;
    this.maxSubjects = opts.maxSubjects ?? 100_000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Seconds until `ip` (or the key presented in `token`, by its public prefix) may try again, or
   * 0 when neither is throttled.
   */
  blocked(ip: string, token: string | undefined): number {
    if (this.windows.size === 0) return 0;
    const now = this.now();
    const a = this.retryAfter(`ip:${ip}`, now);
    if (a > 0) return a;
    const prefix = presentedPrefix(token);
    return prefix === undefined ? 0 : this.retryAfter(`key:${prefix}`, now);
  }

  /** Counts one failure; true when it is the one that crossed the limit (log and count it once). */
  fail(ip: string, token: string | undefined): boolean {
    if (this.opts.limit <= 0) return false;
    const now = this.now();
    const prefix = presentedPrefix(token);
    let crossed = this.count(`ip:${ip}`, now);
    if (prefix !== undefined) crossed = this.count(`key:${prefix}`, now) || crossed;
    return crossed;
  }

  get size(): number {
    return this.windows.size;
  }

  private retryAfter(subject: string, now: number): number {
    const w = this.windows.get(subject);
    if (w === undefined || w.failures < this.opts.limit) return 0;
    const left = w.start + this.windowMs - now;
    if (left <= 0) {
      this.windows.delete(subject);
      return 0;
    }
    return Math.ceil(left / 1000);
  }

  private count(subject: string, now: number): boolean {
    let w = this.windows.get(subject);
    if (w === undefined || now - w.start >= this.windowMs) {
      if (w !== undefined) this.windows.delete(subject);
      if (this.windows.size >= this.maxSubjects) this.sweep(now);
      w = { start: now, failures: 0 };
      this.windows.set(subject, w);
    }
    w.failures++;
    return w.failures === this.opts.limit;
  }

  /** Drops ended windows, then (if still full) the oldest tenth: Map keeps insertion order. */
  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k);
    if (this.windows.size < this.maxSubjects) return;
    let drop = Math.ceil(this.maxSubjects / 10);
    for (const k of this.windows.keys()) {
      if (drop-- <= 0) break;
      this.windows.delete(k);
    }
  }
}

/**
 * The public start of a key as presented (in `Authorization: Bearer …` or a sign-in body), the
 * part key records show (`kw_adm_abcd`): throttling per prefix slows a spray of guesses at one
 * key from many addresses. Undefined when nothing key-shaped was presented.
 */
export function presentedPrefix(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  const m = /^(?:[Bb]earer +)?([a-z0-9]{1,10}_[a-z]{3,4}_[0-9A-Za-z]{4})/.exec(token);
  return m?.[1];
}
