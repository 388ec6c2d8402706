import type { RateLimit } from './model.js';
import type { RateLimitState, ResolvedSecret, VerifyCode } from './verify.js';
import type { Environment } from './keys.js';

/**
 * The ports the services depend on. One node uses the memory adapters; many nodes use the
 * Redis ones (rate limits, invalidation) and PostgreSQL storage.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A negative entry: this hash is known not to be a key (so floods of unknown keys stay off storage). */
export const UNKNOWN = Symbol('unknown-key');
export type CacheValue = ResolvedSecret | typeof UNKNOWN;

export interface VerificationCache {
  /**
   * The verifier's lookup, by the key's digest (a KeyDigester's output, not the stored base64url
   * hash: no encoding on the hot path). `nowMs` is the service clock's, read once by the caller.
   */
  lookup(digest: string, nowMs: number): CacheValue | undefined;
  /**
   * The entry of a digest even past its TTL, if still held (for storage outages: cached keys keep
   * verifying from their last known state). Invalidations drop it like any entry.
   */
  lastKnown(digest: string): ResolvedSecret | undefined;
  /** By the stored (base64url) hash. */
  get(hash: string): CacheValue | undefined;
  set(hash: string, value: CacheValue): void;
  /** Drops every entry of a key (all its secrets). Synchronous: done before the admin call returns. */
  invalidateKey(keyId: string): void;
  invalidateHash(hash: string): void;
  clear(): void;
  /**
   * Makes every entry count as expired (re-read before it is trusted again) while keeping it as the
   * last known state, and drops the negative entries: for when invalidations may have been missed
   * (the channel was lost), without turning a storage outage into refusals of cached keys.
   */
  expireAll(nowMs: number): void;
  readonly size: number;
  /**
   * Bumped by every invalidation. A loader compares it before and after its storage read and
   * does not cache what it read if a change happened meanwhile (the read may predate the change).
   */
  readonly epoch: number;
}

/** Tells the other nodes that a key changed (issue: scale-out). A single node uses the no-op bus. */
export interface InvalidationBus {
  /** False while messages may be missed: cached entries are then trusted for 1 s only. */
  readonly connected: boolean;
  publish(keyId: string): Promise<void>;
  subscribe(onKey: (keyId: string) => void, onReset: () => void): Promise<void>;
  close(): Promise<void>;
}

export const localBus: InvalidationBus = {
  connected: true,
  publish: () => Promise.resolve(),
  subscribe: () => Promise.resolve(),
  close: () => Promise.resolve(),
};

/** One verification, as recorded for usage counters and the verification log. Never holds the key. */
export interface VerificationEvent {
  at: number;
  keyId: string | null;
  keyStart: string | null;
  environment: Environment;
  permissions: readonly string[];
  resource: string | null;
  code: VerifyCode;
  ip: string | null;
  userAgent: string | null;
  latencyUs: number;
  /**
   * The key's permissions (its grants) when it was identified; usage reads them on a VALID call to
   * tell which grant allowed each permission used (storage/usage-batch.ts, `SEEN_PERMISSIONS_PER_DAY`).
   */
  grants?: readonly string[] | null;
  /**
   * A narrowing's shadow decision (docs/narrowing.md): the call was allowed, and the narrower set
   * would have refused it with `code`. Logged as a row marked `shadow`; counted in no usage.
   */
  shadow?: true;
}

/** Receives verification events; must not block (implementations batch their writes). */
export interface UsageSink {
  record(event: VerificationEvent): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** What the runtime limiter needs of a key: its limits and its stored credit balance. */
export interface LimitRequest {
  keyId: string;
  ratelimits: readonly RateLimit[];
  /** The balance as stored (the limiter subtracts uses it has not yet written back). */
  credits: number | null;
  cost: number;
  nowMs: number;
  /**
   * The key's identity, when it has one with limits or credits: they apply too, in the same
   * atomic step (every limit and both balances pass and are consumed, or nothing is).
   */
  identity?: LimitSubject | undefined;
}

/** An identity's part of a limit request: its own counters, keyed by its id. */
export interface LimitSubject {
  id: string;
  ratelimits: readonly RateLimit[];
  credits: number | null;
}

export interface LimitOutcome {
  code: 'VALID' | 'RATE_LIMITED' | 'USAGE_EXCEEDED';
  /** The tightest limit (fewest remaining) of the key and its identity, or the one that refused. */
  ratelimit: RateLimitState | null;
  /** The key's own balance. */
  credits: { remaining: number } | null;
  /** With an identity: its tightest limit and its balance. */
  identity?: { ratelimit: RateLimitState | null; credits: { remaining: number } | null };
  /** Whose limit or balance refused: the key's or the identity's. */
  refusedBy?: 'key' | 'identity';
}

/**
 * Rate limits and credits. Decides and consumes atomically: either every limit and the credit
 * balance pass and all are consumed, or nothing is. Memory for one node, Redis for many.
 */
export interface Limiter {
  consume(req: LimitRequest): LimitOutcome | Promise<LimitOutcome>;
  /** Credit uses not yet written to storage, taken out for a flush. */
  drainCreditUse(): Map<string, number>;
  /** Puts back uses whose write failed, so they are retried. */
  restoreCreditUse(uses: Map<string, number>): void;
  /** Forget the balance of a key (or an identity, by its id) after an admin change or a refill (storage holds the new one). */
  resetCredits(keyId: string): void;
  close(): Promise<void>;
}

/** Where key events go (webhooks). Non-blocking: implementations queue and deliver later. */
export interface EventSink {
  emit(
    event:
      | 'key.expiring'
      | 'key.credits_low'
      | 'key.leaked'
      | 'key.disabled'
      | 'key.rate_limited'
      | 'key.narrowing_refused',
    data: Record<string, unknown>,
  ): void;
  /** A verification was rate limited; implementations emit at most once per key and window. */
  rateLimited(
    keyId: string,
    keyName: string,
    limit: RateLimitState,
    windowSeconds: number,
    /** The key's owner team: a team's webhooks receive only events about that team's keys. */
    team?: string | null,
  ): void;
}

export const nullEvents: EventSink = { emit: () => undefined, rateLimited: () => undefined };
