import type { LimitOutcome, LimitRequest, LimitSubject, Limiter } from '../../core/ports.js';
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
 * verifications pass, whatever the interleaving of their awaits elsewhere. A key with an identity
 * is checked against both subjects' limits and balances before anything of either is consumed
 * (docs/hot-path.md#keys-with-an-identity).
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
    const key: LimitSubject = { id: req.keyId, ratelimits: req.ratelimits, credits: req.credits };
    const subjects = req.identity === undefined ? [key] : [key, req.identity];
    // 1. Every limit of the key and of its identity, without writing anything.
    const tightest: (RateLimitState | null)[] = [];
    const updates: [string, number][] = [];
    for (const [s, sub] of subjects.entries()) {
      let best: RateLimitState | null = null;
      for (const limit of sub.ratelimits) {
        const slot = `${sub.id}\u0000${limit.name}`;
        const d = gcra(limit, this.tats.get(slot), req.nowMs, req.cost);
        const state = {
          name: limit.name,
          limit: limit.limit,
          remaining: d.remaining,
          resetAt: new Date(d.resetAtMs).toISOString(),
        };
        if (!d.allowed) return this.outcome('RATE_LIMITED', req, state, tightest, s);
        if (best === null || state.remaining < best.remaining) best = state;
        updates.push([slot, d.newTat]);
      }
      tightest.push(best);
    }
    // 2. Both balances, still without writing.
    const entries: (CreditEntry | null)[] = [];
    for (const [s, sub] of subjects.entries()) {
      if (sub.credits === null) {
        entries.push(null);
        continue;
      }
      let e = this.credits.get(sub.id);
      if (e === undefined) {
        e = { balance: undefined, pending: 0 };
        this.credits.set(sub.id, e);
      }
      e.balance ??= Math.max(0, sub.credits - e.pending);
      if (e.balance < req.cost) return this.outcome('USAGE_EXCEEDED', req, null, tightest, s);
      entries.push(e);
    }
    // 3. Everything passed: consume from all of them.
    for (const e of entries) {
      if (e === null || e.balance === undefined) continue;
      e.balance -= req.cost;
      e.pending += req.cost;
    }
    for (const [slot, tat] of updates) this.tats.set(slot, tat);
    return this.outcome('VALID', req, null, tightest, -1);
  }

  /** The answer: the refusing limit or the tightest overall, and each subject's balance as it now is. */
  private outcome(
    code: LimitOutcome['code'],
    req: LimitRequest,
    refusing: RateLimitState | null,
    tightest: readonly (RateLimitState | null)[],
    refusedAt: number,
  ): LimitOutcome {
    let overall = refusing;
    if (overall === null)
      for (const t of tightest)
        if (t !== null && (overall === null || t.remaining < overall.remaining)) overall = t;
    const out: LimitOutcome = {
      code,
      ratelimit: overall,
      credits: this.peek(req.keyId, req.credits),
    };
    if (req.identity !== undefined) {
      out.identity = {
        ratelimit: refusedAt === 1 && refusing !== null ? refusing : (tightest[1] ?? null),
        credits: this.peek(req.identity.id, req.identity.credits),
      };
    }
    if (refusedAt >= 0) out.refusedBy = refusedAt === 0 ? 'key' : 'identity';
    return out;
  }

  private peek(id: string, stored: number | null): { remaining: number } | null {
    if (stored === null) return null;
    const e = this.credits.get(id);
    return { remaining: e?.balance ?? Math.max(0, stored - (e?.pending ?? 0)) };
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
