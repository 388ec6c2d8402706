import { KeywardenError } from '../core/errors.js';
import { hashOfDigest, malformedReason, maskParts, MAX_KEY_LENGTH, parseKey } from '../core/keys.js';
import { effectivePermissions } from '../core/roles.js';
import { rolePermissions } from '../storage/roles-repo.js';
import { importDigest, type ImportedKeys } from './imported-keys.js';
import { isStorageUnavailable } from '../storage/db.js';
import { UNKNOWN, type CacheValue, type LimitOutcome } from '../core/ports.js';
import {
  decide,
  inputProblem,
  resolveSecret,
  resultOf,
  shadowDenied,
  type ResolvedSecret,
  type KeyVerifier,
  type VerifyInput,
  type VerifyResult,
  type VerifyScope,
} from '../core/verify.js';
import { identityView } from '../core/identity.js';
import { findIdentityIn, toIdentity } from '../storage/identities-repo.js';
import { parseNarrowing } from '../core/narrowing.js';
import { findByHashIn, toRecord } from '../storage/keys-repo.js';
import { nowIso, type ServiceContext } from './context.js';

/** While the invalidation bus is down, a cached entry older than this is re-read. */
const STALE_WHEN_DISCONNECTED_MS = 1000;

export type { VerifyScope };

/**
 * The hot path: format and checksum (no storage) → hash → cache (positive and negative
 * entries) → pure decision → runtime limits. A cached key costs no storage round trip; usage is
 * handed to a batching sink, never written synchronously. Why each step is written as it is, and
 * what guards it: docs/hot-path.md.
 */
export class Verifier implements KeyVerifier {
  /** Concurrent misses for one hash share one storage read. */
  private readonly loading = new Map<string, Promise<CacheValue>>();

  constructor(
    private readonly ctx: ServiceContext,
    /** Whether the store holds imported keys (docs/import.md); absent: never looked up. */
    private readonly imported?: ImportedKeys,
  ) {}

  /**
   * Synchronous for the common cases (malformed, cached, known-unknown, in-memory limits): no
   * promise is allocated unless storage or Redis has to be asked.
   */
  verify(input: VerifyInput, scope: VerifyScope): VerifyResult | Promise<VerifyResult> {
    // performance.now() is a double: hrtime.bigint() allocates a BigInt per call, twice per verification.
    const t0 = performance.now();
    const ctx = this.ctx;
    const problem = inputProblem(input, scope.userAgent ?? null);
    if (problem !== undefined) throw new KeywardenError('VALIDATION_FAILED', problem);
    const parsed = parseKey(input.key, ctx.prefix);
    // Admin keys are never accepted as ordinary keys: to the verifier they are not of the format.
    if (parsed === null || parsed.kind === 'admin') {
      if (parsed === null && this.imported?.present === true && input.key.length <= MAX_KEY_LENGTH) {
        return this.verifyImported(input, scope, t0);
      }
      const detail = malformedReason(input.key, ctx.prefix);
      return this.finish(
        { valid: false, code: 'MALFORMED', detail },
        null,
        input,
        scope,
        t0,
        ctx.clock.now(),
      );
    }
    // The raw digest (no base64): the cache is keyed by its bytes; the stored hash is only
    // needed on a miss.
    const digest = ctx.digester(input.key);
    // One clock read for the entry's TTL and staleness and the decision (a synchronous answer
    // is decided within microseconds of it).
    const now = ctx.clock.now();
    const v = ctx.cache.lookup(digest, now);
    if (v === undefined) {
      ctx.metrics.cache.miss.inc();
      return this.load(hashOfDigest(digest))
        .catch((err: unknown) => this.lastKnownOr(digest, err))
        .then((loaded) => this.decideFor(loaded, input, scope, t0, ctx.clock.now()));
    }
    if (v !== UNKNOWN && !ctx.bus.connected && now - v.loadedAtMs > STALE_WHEN_DISCONNECTED_MS) {
      // Invalidations from other nodes may be missed: re-read, but keep answering from the
      // entry if storage is down too (cached keys keep verifying through a database outage).
      ctx.metrics.cache.stale.inc();
      return this.load(hashOfDigest(digest))
        .catch(() => v)
        .then((loaded) => this.decideFor(loaded, input, scope, t0, ctx.clock.now()));
    }
    (v === UNKNOWN ? ctx.metrics.cache.negative : ctx.metrics.cache.hit).inc();
    return this.decideFor(v, input, scope, t0, now);
  }

  /**
   * A string outside this deployment's format, in a store that holds imported keys: looked up by
   * its plain SHA-256 through the same cache (an unknown string gets a negative entry, so a flood
   * of them costs one lookup each per negative TTL). Not found: MALFORMED, as without imports.
   */
  private verifyImported(
    input: VerifyInput,
    scope: VerifyScope,
    t0: number,
  ): VerifyResult | Promise<VerifyResult> {
    const ctx = this.ctx;
    const digest = importDigest(input.key);
    const now = ctx.clock.now();
    const decide = (v: CacheValue, at: number): VerifyResult | Promise<VerifyResult> =>
      v === UNKNOWN
        ? this.finish(
            { valid: false, code: 'MALFORMED', detail: malformedReason(input.key, ctx.prefix) },
            null,
            input,
            scope,
            t0,
            at,
          )
        : this.decideFor(v, input, scope, t0, at);
    const v = ctx.cache.lookup(digest, now);
    if (v === undefined) {
      ctx.metrics.cache.miss.inc();
      return this.load(hashOfDigest(digest))
        .catch((err: unknown) => this.lastKnownOr(digest, err))
        .then((loaded) => decide(loaded, ctx.clock.now()));
    }
    if (v !== UNKNOWN && !ctx.bus.connected && now - v.loadedAtMs > STALE_WHEN_DISCONNECTED_MS) {
      ctx.metrics.cache.stale.inc();
      return this.load(hashOfDigest(digest))
        .catch(() => v)
        .then((loaded) => decide(loaded, ctx.clock.now()));
    }
    (v === UNKNOWN ? ctx.metrics.cache.negative : ctx.metrics.cache.hit).inc();
    return decide(v, now);
  }

  private decideFor(
    v: CacheValue,
    input: VerifyInput,
    scope: VerifyScope,
    t0: number,
    now: number,
  ): VerifyResult | Promise<VerifyResult> {
    const ctx = this.ctx;
    const found = v !== UNKNOWN && (scope.team === null || v.owner.team === scope.team) ? v : null;
    const result = resultOf(found, decide(found, input, now));
    // A narrowing in progress: the call is also decided against the narrower set, and one it would
    // have refused goes to the usage pipeline as a shadow event (no write here).
    if (found !== null && found.shadow !== null && result.code === 'VALID')
      this.shadow(found, input, scope, now);
    // A synchronous answer is recorded at the time it was decided at (a clock read is a visible
    // part of a cached verification); one that waited for the limiter reads the clock again.
    if (result.code !== 'VALID' || found === null) return this.finish(result, found, input, scope, t0, now);
    const r = found;
    const idn = r.identity;
    const identityLimited = idn !== null && (idn.ratelimits.length > 0 || idn.credits !== null);
    if (r.ratelimits.length === 0 && r.credits === null && !identityLimited) {
      return this.finish(result, found, input, scope, t0, now);
    }
    // The key's limits and its identity's are one atomic decision (docs/identities.md).
    const out = ctx.limiter.consume({
      keyId: r.id,
      ratelimits: r.ratelimits,
      credits: r.credits?.remaining ?? null,
      cost: input.cost,
      nowMs: now,
      identity: identityLimited
        ? { id: idn.id, ratelimits: idn.ratelimits, credits: idn.credits?.remaining ?? null }
        : undefined,
    });
    if (out instanceof Promise) {
      return out.then((o) =>
        this.finish(this.applyLimits(result, o, found, input), found, input, scope, t0, ctx.clock.now()),
      );
    }
    return this.finish(this.applyLimits(result, out, found, input), found, input, scope, t0, now);
  }

  private shadow(found: ResolvedSecret, input: VerifyInput, scope: VerifyScope, now: number): void {
    const denied = shadowDenied(found, input, now);
    if (denied === undefined) return;
    this.ctx.usage.record({
      at: now,
      keyId: found.id,
      keyStart: found.start,
      environment: input.environment,
      // The permission the narrower set lacks (the first of the call's).
      permissions: [denied],
      resource: input.resource ?? null,
      code: 'INSUFFICIENT_PERMISSIONS',
      ip: input.ip ?? null,
      userAgent: scope.userAgent ?? null,
      latencyUs: 0,
      shadow: true,
    });
  }

  private applyLimits(
    result: VerifyResult,
    out: LimitOutcome,
    found: ResolvedSecret,
    input: VerifyInput,
  ): VerifyResult {
    const ctx = this.ctx;
    const r = found;
    result.ratelimit = out.ratelimit;
    result.credits = out.credits;
    if (result.identity !== undefined && out.identity !== undefined) {
      result.identity.ratelimit = out.identity.ratelimit;
      result.identity.credits = out.identity.credits;
    }
    if (out.code === 'VALID') return result;
    result.valid = false;
    result.code = out.code;
    const byIdentity = out.refusedBy === 'identity' && r.identity !== null;
    const whose = byIdentity ? `identity ${r.identity?.externalId ?? ''}'s ` : '';
    const balance = byIdentity ? out.identity?.credits : out.credits;
    result.detail =
      out.code === 'RATE_LIMITED'
        ? `${whose}rate limit "${out.ratelimit?.name ?? ''}" exhausted until ${out.ratelimit?.resetAt ?? ''}`
        : `${whose}credits exhausted (${balance?.remaining ?? 0} left, this call costs ${input.cost})`;
    ctx.metrics.rateLimitRejections.labels(out.code === 'RATE_LIMITED' ? 'ratelimit' : 'credits').inc();
    const hit = out.ratelimit;
    const limits = byIdentity ? (r.identity?.ratelimits ?? []) : r.ratelimits;
    const window = limits.find((l) => l.name === hit?.name)?.windowSeconds;
    if (out.code === 'RATE_LIMITED' && hit !== null && window !== undefined) {
      ctx.events.rateLimited(r.id, r.name, hit, window, r.owner.team);
    }
    return result;
  }

  /** Metrics and the usage event (a push into the batch), then the answer. */
  private finish(
    result: VerifyResult,
    found: ResolvedSecret | null,
    input: VerifyInput,
    scope: VerifyScope,
    t0: number,
    at: number,
  ): VerifyResult {
    const ctx = this.ctx;
    const latencyUs = (performance.now() - t0) * 1000;
    ctx.metrics.verification(result.code, latencyUs / 1e6);
    ctx.usage.record({
      at,
      keyId: found?.id ?? null,
      // An unidentified key of this deployment's format is logged by its start (public, as shown
      // in the console), so a flood of unknown keys is visible; a malformed string never is.
      keyStart: found?.start ?? (result.code === 'NOT_FOUND' ? maskParts(input.key).start : null),
      environment: input.environment,
      permissions: input.permissions,
      resource: input.resource ?? null,
      code: result.code,
      ip: input.ip ?? null,
      userAgent: scope.userAgent ?? null,
      latencyUs,
      grants: found === null ? null : found.permissions,
    });
    return result;
  }

  /**
   * Storage is unreachable: a key whose entry expired meanwhile keeps verifying from its last
   * known state (invalidations still drop it), for as long as the outage lasts.
   */
  private lastKnownOr(digest: string, err: unknown): CacheValue {
    const last =
      err instanceof KeywardenError && err.code === 'SERVICE_UNAVAILABLE'
        ? this.ctx.cache.lastKnown(digest)
        : undefined;
    if (last === undefined) throw err;
    this.ctx.metrics.cache.stale.inc();
    return last;
  }

  private load(hash: string): Promise<CacheValue> {
    const pending = this.loading.get(hash);
    if (pending !== undefined) return pending;
    const epoch = this.ctx.cache.epoch;
    const p = findByHashIn(this.ctx.storage, hash)
      .then(async (hit): Promise<CacheValue> => {
        if (hit === null) return UNKNOWN;
        const record = toRecord(hit.row, nowIso(this.ctx));
        // A key with an identity is cached with it: a hit then needs no second read either.
        const idRow =
          hit.row.identity_id === null
            ? undefined
            : await findIdentityIn(this.ctx.storage, hit.row.identity_id);
        const identity = idRow === undefined ? null : identityView(toIdentity(idRow));
        // Roles are resolved here, once per cache fill: a cached key's decision reads one set.
        const permissions =
          record.roles.length === 0
            ? record.permissions
            : effectivePermissions(
                record.permissions,
                record.roles,
                await rolePermissions(this.ctx.storage.db, record.roles),
              );
        return resolveSecret(
          { ...record, permissions },
          hit.secret,
          this.ctx.clock.now(),
          identity,
          parseNarrowing(hit.row.narrowing),
        );
      })
      .then((value) => {
        // Only cache what was read if no change happened meanwhile: the read may predate it.
        if (this.ctx.cache.epoch === epoch) this.ctx.cache.set(hash, value);
        return value;
      })
      .catch((err: unknown) => {
        if (isStorageUnavailable(err)) {
          throw new KeywardenError(
            'SERVICE_UNAVAILABLE',
            'storage is unreachable and this key is not cached; try again shortly',
          );
        }
        throw err;
      })
      .finally(() => this.loading.delete(hash));
    this.loading.set(hash, p);
    return p;
  }
}
