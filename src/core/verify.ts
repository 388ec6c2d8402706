import type { IdentityView } from './identity.js';
import { compileAllowlist, ipAllowed, isValidIp, quotedAddress, type Allowlist } from './cidr.js';
import type { VerifyCode } from './codes.js';
import { deepFreeze, Interner } from './intern.js';
import { ENVIRONMENTS, holdsKey, withoutKeys, type Environment } from './keys.js';
import type { KeyRecord, KeyStatus, Owner, SecretInfo } from './model.js';
import type { Narrowing, ShadowSet } from './narrowing.js';
import { shadowSetOf } from './narrowing.js';
import {
  compileGrants,
  firstDenied,
  isRequiredPermission,
  isResourceId,
  type Grants,
} from './permissions.js';

export { VERIFY_CODES, type VerifyCode } from './codes.js';

/** The HTTP status a protected platform should answer for a code. */
export function platformStatus(code: VerifyCode): number {
  switch (code) {
    case 'VALID':
      return 200;
    case 'MALFORMED':
    case 'NOT_FOUND':
    case 'DELETED':
    case 'DISABLED':
    case 'EXPIRED':
    case 'ENVIRONMENT_MISMATCH':
      return 401;
    case 'IP_NOT_ALLOWED':
    case 'INSUFFICIENT_PERMISSIONS':
      return 403;
    case 'RATE_LIMITED':
    case 'USAGE_EXCEEDED':
      return 429;
  }
}

export interface VerifyInput {
  key: string;
  environment: Environment;
  permissions: readonly string[];
  resource?: string | undefined;
  ip?: string | undefined;
  cost: number;
}

/**
 * What is wrong with a verification's input beyond the key (a sentence for VALIDATION_FAILED), or
 * undefined. Checked by the verifier for every caller, HTTP and in-process alike: the HTTP schema
 * already refuses most of this, but an in-process caller passes what its own request held (a path
 * parameter as the resource), and every field of a call is logged (PostgreSQL refuses a NUL in
 * text, which would fail every usage write after it).
 */
/** Input quoted in a detail: a key-shaped part cut to its public start (before the cut to `max`). */
const quoted = (s: string, max: number): string => JSON.stringify(withoutKeys(s).slice(0, max));

export function inputProblem(input: VerifyInput, userAgent: string | null): string | undefined {
  // A plain-JavaScript caller may pass anything here.
  const environment: unknown = input.environment;
  if (!ENVIRONMENTS.includes(input.environment))
    return `environment ${quoted(String(environment), 64)} is not one of ${ENVIRONMENTS.join(', ')}`;
  for (const p of input.permissions)
    if (!isRequiredPermission(p))
      return `${quoted(p, 300)} is not a permission to check: expected resource:action[:resourceId] without wildcards`;
  if (input.resource !== undefined && !isResourceId(input.resource))
    return `resource ${quoted(input.resource, 128)} may only hold letters, digits and _ . @ -`;
  // A key given as the resource, or as a permission's resource id, would be written to the log and
  // the event lines. (holdsKey returns at once below 42 characters, where most values are.)
  if (input.resource !== undefined && holdsKey(input.resource))
    return `resource ${quoted(input.resource, 128)} is an API key: send the key as "key", and as the resource the id of what the call acts on`;
  for (const p of input.permissions)
    if (holdsKey(p))
      return `permission ${quoted(p, 300)} holds an API key: a permission names a resource id, never a key`;
  if (input.ip !== undefined && !isValidIp(input.ip))
    return `ip ${quotedAddress(input.ip)} is not an IPv4 or IPv6 address`;
  if (userAgent !== null && userAgent.includes('\u0000')) return 'the user agent contains a NUL character';
  if (!Number.isSafeInteger(input.cost) || input.cost < 0)
    return `cost ${String(input.cost)} is not a whole number ≥ 0`;
  return undefined;
}

/**
 * What verification reads and answers with. A cache entry keeps only this, not the whole record
 * (timestamps, system, purpose… would weigh on every entry and are never used here).
 */
export type VerifyView = Pick<
  KeyRecord,
  | 'id'
  | 'name'
  | 'environment'
  | 'customerId'
  | 'owner'
  | 'permissions'
  | 'ratelimits'
  | 'credits'
  | 'expiresAt'
  | 'metadata'
  | 'status'
  | 'start'
  | 'disabledReason'
>;

/**
 * A cache entry for one secret of a key: its record's answer fields, grants and allowlist
 * compiled once (a decision does no parsing) and its rotation window parsed. One flat object,
 * not entry → key → record → secret: at a million keys each of those objects was a CPU cache
 * miss on every lookup (docs/hot-path.md#flat-shared-cache-entries).
 */
export interface ResolvedSecret extends VerifyView {
  grants: Grants;
  allowlist: Allowlist;
  expiresAtMs: number | null;
  /** This secret's rotation: when it was replaced and when its grace window ends. */
  secretReplacedAt: string | null;
  secretExpiresAt: string | null;
  secretExpiresAtMs: number | null;
  /** When this entry was read from storage (for staleness while invalidations may be missed). */
  loadedAtMs: number;
  /** The key's identity (its limits and credits apply too), as read with the key; null: none. */
  identity: IdentityView | null;
  /** A narrowing's shadow set while its period runs (docs/narrowing.md); null for nearly every key. */
  shadow: ShadowSet | null;
}

const PERMISSION_SETS = new Interner<{ permissions: string[]; grants: Grants }>(10_000, 2048);
const OWNERS = new Interner<Owner>(10_000, 1024);
const NO_RATELIMITS: KeyRecord['ratelimits'] = deepFreeze([]);
const NO_METADATA: Record<string, unknown> = deepFreeze({});
const NO_ALLOWLIST: Allowlist = deepFreeze([]);
const STATUSES: readonly KeyStatus[] = ['active', 'disabled', 'expired', 'deleted'];

/**
 * Builds the cache entry of one secret of a key. Identical parts (permission sets with their
 * grants, owners, empty lists, enum strings) are shared between entries: they are most of an
 * entry's memory at a million keys, and fewer distinct objects also means fewer cache misses.
 */
export function resolveSecret(
  full: KeyRecord,
  secret: SecretInfo,
  loadedAtMs: number,
  identity: IdentityView | null = null,
  narrowing: Narrowing | null = null,
): ResolvedSecret {
  // Permissions never contain spaces (the grammar), so the joined list names the set exactly.
  const perms = PERMISSION_SETS.get(full.permissions.join(' '), () => ({
    permissions: deepFreeze(full.permissions),
    grants: compileGrants(full.permissions),
  }));
  const { team, contact } = full.owner;
  return {
    id: full.id,
    name: full.name,
    environment: ENVIRONMENTS.find((e) => e === full.environment) ?? full.environment,
    customerId: full.customerId,
    // JSON keeps null apart from "" and a NUL inside a name apart from the separator.
    owner: OWNERS.get(JSON.stringify([team, contact]), () => deepFreeze(full.owner)),
    permissions: perms.permissions,
    ratelimits: full.ratelimits.length === 0 ? NO_RATELIMITS : deepFreeze(full.ratelimits),
    credits: full.credits,
    expiresAt: full.expiresAt,
    metadata: Object.keys(full.metadata).length === 0 ? NO_METADATA : deepFreeze(full.metadata),
    status: STATUSES.find((x) => x === full.status) ?? full.status,
    start: full.start,
    disabledReason: full.disabledReason,
    grants: perms.grants,
    allowlist: full.ipAllowlist.length === 0 ? NO_ALLOWLIST : compileAllowlist(full.ipAllowlist),
    expiresAtMs: full.expiresAt === null ? null : Date.parse(full.expiresAt),
    secretReplacedAt: secret.replacedAt,
    secretExpiresAt: secret.expiresAt,
    secretExpiresAtMs: secret.expiresAt === null ? null : Date.parse(secret.expiresAt),
    loadedAtMs,
    identity: identity === null ? null : deepFreeze(identity),
    shadow: shadowSetOf(narrowing),
  };
}

/**
 * The shadow decision of a call the key's own permissions allowed: the permission the narrower
 * set would have refused, or undefined (no narrowing running, or the narrower set allows it too).
 */
export function shadowDenied(found: ResolvedSecret, input: VerifyInput, nowMs: number): string | undefined {
  const s = found.shadow;
  if (s === null || nowMs >= s.endsAtMs) return undefined;
  return firstDenied(s.grants, input.permissions, input.resource);
}

export interface Decision {
  code: VerifyCode;
  /** Why, for rejections; never contains the key. */
  detail?: string;
}

const ALLOWED: Decision = Object.freeze({ code: 'VALID' });
const NOT_FOUND: Decision = Object.freeze({ code: 'NOT_FOUND' });
const DELETED: Decision = Object.freeze({
  code: 'DELETED',
  detail: 'the key was deleted: it is no longer accepted and cannot be restored',
});

/**
 * The pure verification decision up to and including permissions (rate limits and credits
 * are counters, decided by the runtime after this says the key may pass).
 */
export function decide(found: ResolvedSecret | null, input: VerifyInput, nowMs: number): Decision {
  if (found === null) return NOT_FOUND;
  const r = found;
  if (r.status === 'deleted') return DELETED;
  if (r.status === 'disabled') {
    return { code: 'DISABLED', detail: r.disabledReason ?? undefined };
  }
  if (r.expiresAtMs !== null && r.expiresAtMs <= nowMs) {
    return { code: 'EXPIRED', detail: `the key expired at ${r.expiresAt ?? ''}` };
  }
  if (r.secretExpiresAtMs !== null && r.secretExpiresAtMs <= nowMs) {
    return {
      code: 'EXPIRED',
      detail: `this secret was replaced at ${r.secretReplacedAt ?? ''}; its grace window ended at ${r.secretExpiresAt ?? ''}`,
    };
  }
  if (r.environment !== input.environment) {
    return {
      code: 'ENVIRONMENT_MISMATCH',
      detail: `the key belongs to ${r.environment}, the verifier serves ${input.environment}`,
    };
  }
  if (!ipAllowed(r.allowlist, input.ip)) {
    return {
      code: 'IP_NOT_ALLOWED',
      detail:
        input.ip === undefined
          ? 'the key has an IP allowlist and no ip was given'
          : `${input.ip} is not in the key's allowlist`,
    };
  }
  const denied = firstDenied(r.grants, input.permissions, input.resource);
  if (denied !== undefined) {
    const what =
      input.resource !== undefined && !denied.split(':')[2] ? `${denied} on ${input.resource}` : denied;
    return { code: 'INSUFFICIENT_PERMISSIONS', detail: `the key lacks ${what}` };
  }
  return ALLOWED;
}

export interface RateLimitState {
  name: string;
  limit: number;
  remaining: number;
  resetAt: string;
}

/** What `POST /v1/verify` answers (always 200; the outcome is data). */
export interface VerifyResult {
  valid: boolean;
  code: VerifyCode;
  detail?: string;
  keyId?: string;
  name?: string;
  environment?: Environment;
  customerId?: string | null;
  owner?: Owner;
  permissions?: string[];
  expiresAt?: string | null;
  ratelimit?: RateLimitState | null;
  credits?: { remaining: number } | null;
  metadata?: Record<string, unknown>;
  rotation?: { replacedAt: string; expiresAt: string };
  /** The key's identity: its tightest limit and its balance after this call (docs/identities.md). */
  identity?: IdentityResult;
}

export interface IdentityResult {
  id: string;
  externalId: string;
  ratelimit: RateLimitState | null;
  credits: { remaining: number } | null;
}

/** Who asks: a verifier limited to a team only sees that team's keys (others are NOT_FOUND). */
export interface VerifyScope {
  team: string | null;
  userAgent?: string | null;
}

/**
 * The verification port: what the in-process SDK adapter needs from the service's verifier
 * (services/verifier.ts implements it). Synchronous answers are allowed for the hot path.
 */
export interface KeyVerifier {
  verify(input: VerifyInput, scope: VerifyScope): VerifyResult | Promise<VerifyResult>;
}

/** Shapes the answer. Identity is included once the key is identified, even on rejection. */
export function resultOf(found: ResolvedSecret | null, decision: Decision): VerifyResult {
  if (found === null) return { valid: false, code: decision.code };
  const r = found;
  const out: VerifyResult = {
    valid: decision.code === 'VALID',
    code: decision.code,
    keyId: r.id,
    name: r.name,
    environment: r.environment,
    customerId: r.customerId,
    owner: r.owner,
    permissions: r.permissions,
    expiresAt: r.expiresAt,
    ratelimit: null,
    credits: r.credits === null ? null : { remaining: r.credits.remaining },
    metadata: r.metadata,
  };
  if (decision.detail !== undefined) out.detail = decision.detail;
  if (r.identity !== null) {
    const i = r.identity;
    out.identity = {
      id: i.id,
      externalId: i.externalId,
      ratelimit: null,
      credits: i.credits === null ? null : { remaining: i.credits.remaining },
    };
  }
  if (r.secretReplacedAt !== null && r.secretExpiresAt !== null)
    out.rotation = { replacedAt: r.secretReplacedAt, expiresAt: r.secretExpiresAt };
  return out;
}
