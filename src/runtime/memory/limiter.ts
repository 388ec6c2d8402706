import type { LimitOutcome, LimitRequest, Limiter } from '../../core/ports.js';
import { gcra } from '../../core/ratelimit.js';
import type { RateLimitState } from '../../core/verify.js';

interface CreditEntry {
  /** Authoritative balance while known; undefined after a reset until the next use re-reads storage. */
  balance: number | undefined;
  /** Uses not yet written back to storage. */
  pending: number;
}

/**
 * One node's limiter. JavaScript runs one verification's decision at a time, so the
 * check-then-consume below is atomic without locks: with limit N, exactly N concurrent
 * verifications pass, whatever the interleaving of their awaits elsewhere.
 */
export class MemoryLimiter implements Limiter {
  private readonly tats = new Map<string, number>();
  private readonly credits = new Map<string, CreditEntry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    // Entries whose TAT has passed are equivalent to absent: drop them so memory stays bounded.
    this.sweeper = setInterval(() => {
      this.sweep(this.now());
    }, 60_000);
    this.sweeper.unref();
  }

  consume(req: LimitRequest): LimitOutcome {
    let tightest: RateLimitState | null = null;
    const updates: [string, number][] = [];
    for (const limit of req.ratelimits) {
      const slot = `${req.keyId}\u0000${limit.name}`;
      const d = gcra(limit, this.tats.get(slot), req.nowMs, req.cost);
      const state = {
        name: limit.name,
        limit: limit.limit,
        remaining: d.remaining,
        resetAt: new Date(d.resetAtMs).toISOString(),
      };
      if (!d.allowed) return { code: 'RATE_LIMITED', ratelimit: state, credits: this.peek(req) };
      if (tightest === null || state.remaining < tightest.remaining) tightest = state;
      updates.push([slot, d.newTat]);
    }
    let credits: { remaining: number } | null = null;
    if (req.credits !== null) {
      let e = this.credits.get(req.keyId);
      if (e === undefined) {
        e = { balance: undefined, pending: 0 };
        this.credits.set(req.keyId, e);
      }
      e.balance ??= Math.max(0, req.credits - e.pending);
      if (e.balance < req.cost) {
        return { code: 'USAGE_EXCEEDED', ratelimit: tightest, credits: { remaining: e.balance } };
      }
      e.balance -= req.cost;
      e.pending += req.cost;
      credits = { remaining: e.balance };
    }
    for (const [slot, tat] of updates) this.tats.set(slot, tat);
    return { code: 'VALID', ratelimit: tightest, credits };
  }

  private peek(req: LimitRequest): { remaining: number } | null {
    if (req.credits === null) return null;
    const e = this.credits.get(req.keyId);
    return { remaining: e?.balance ?? Math.max(0, req.credits - (e?.pending ?? 0)) };
  }

  drainCreditUse(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, e] of this.credits) {
      if (e.pending > 0) {
        out.set(id, e.pending);
        e.pending = 0;
      }
    }
    return out;
  }

  restoreCreditUse(uses: Map<string, number>): void {
    for (const [id, n] of uses) {
      const e = this.credits.get(id);
      if (e === undefined) this.credits.set(id, { balance: undefined, pending: n });
      else e.pending += n;
    }
  }

  resetCredits(keyId: string): void {
    const e = this.credits.get(keyId);
    if (e !== undefined) e.balance = undefined;
  }

  sweep(nowMs: number): void {
    for (const [slot, tat] of this.tats) if (tat <= nowMs) this.tats.delete(slot);
    for (const [id, e] of this.credits)
      if (e.pending === 0 && e.balance === undefined) this.credits.delete(id);
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    return Promise.resolve();
  }
}
