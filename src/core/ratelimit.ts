import type { RateLimit } from './model.js';

/**
 * GCRA (generic cell rate algorithm), as in redis-cell and most API gateways. Each limit keeps
 * one number per key, the theoretical arrival time (TAT). A limit of N per W seconds allows a
 * burst of N, then refills continuously at one request every W/N seconds; "remaining" is how
 * many could pass right now. Exact: with N requests at one instant, N pass and the N+1st fails.
 *
 * Pure: the caller owns the stored TAT (memory map or Redis) and writes back `newTat` only
 * when every limit of the request passes.
 */
export interface GcraDecision {
  allowed: boolean;
  newTat: number;
  remaining: number;
  /** When the next request of this cost would be allowed (allowed: when the bucket is full again). */
  resetAtMs: number;
}

export function gcra(limit: RateLimit, tat: number | undefined, nowMs: number, cost: number): GcraDecision {
  const windowMs = limit.windowSeconds * 1000;
  const interval = windowMs / limit.limit;
  const base = Math.max(tat ?? nowMs, nowMs);
  const newTat = base + interval * cost;
  const allowAt = newTat - windowMs;
  if (allowAt > nowMs + 1e-6) {
    const remaining = Math.max(0, Math.floor((windowMs - (base - nowMs)) / interval + 1e-9));
    return { allowed: false, newTat: base, remaining, resetAtMs: Math.ceil(allowAt) };
  }
  const remaining = Math.max(0, Math.floor((windowMs - (newTat - nowMs)) / interval + 1e-9));
  return { allowed: true, newTat, remaining, resetAtMs: Math.ceil(newTat) };
}
