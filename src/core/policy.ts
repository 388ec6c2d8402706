import type { Environment } from './keys.js';
import type { Owner, RateLimit } from './model.js';
import { matchesNamingPattern } from './naming-pattern.js';
import { hasWildcard } from './permissions.js';

/** The deployment's rules for keys (SPEC §4). Stored as one JSON document; defaults below. */
export interface EnvironmentPolicy {
  /** Longest allowed lifetime; when set, keys of this environment must have an expiry within it. */
  maxLifetimeDays: number | null;
  allowWildcards: boolean;
  /** Applied at creation to keys that set no rate limit. */
  defaultRateLimit: RateLimit | null;
}

export interface Policy {
  naming: {
    pattern: string;
    denyList: string[];
    requireEnvironmentSegment: boolean;
    /** A team policy's own pattern, which names must match as well as `pattern`. */
    teamPattern?: string | null;
  };
  requireOwner: boolean;
  environments: Record<Environment, EnvironmentPolicy>;
  rotationWarningDays: number;
  staleAfterDays: number;
  /** More distinct client IPs or user agents than this on one day marks a key as shared. */
  sharedKeyThreshold: number;
}

export const DEFAULT_POLICY: Policy = {
  naming: {
    pattern: '^[a-z0-9]+(-[a-z0-9]+){2,}$',
    denyList: ['test', 'api', 'system', 'key', 'default', 'temp'],
    requireEnvironmentSegment: true,
  },
  requireOwner: true,
  environments: {
    production: { maxLifetimeDays: 365, allowWildcards: false, defaultRateLimit: null },
    staging: { maxLifetimeDays: null, allowWildcards: true, defaultRateLimit: null },
    development: { maxLifetimeDays: null, allowWildcards: true, defaultRateLimit: null },
  },
  rotationWarningDays: 30,
  staleAfterDays: 90,
  sharedKeyThreshold: 5,
};

const ENV_TOKENS: Record<string, Environment> = {
  prod: 'production',
  production: 'production',
  stg: 'staging',
  staging: 'staging',
  dev: 'development',
  development: 'development',
};

export type PolicyRule =
  | 'naming.pattern'
  | 'naming.denyList'
  | 'naming.environment'
  | 'requireOwner'
  | 'maxLifetimeDays'
  | 'allowWildcards';

export interface Violation {
  rule: PolicyRule;
  detail: string;
}

/** What the rules look at. `createdAt` anchors the lifetime (now, for a key being created). */
export interface KeyFacts {
  name: string;
  environment: Environment;
  owner: Owner;
  permissions: readonly string[];
  expiresAt: string | null;
  createdAt: string;
}

/** Which input fields each rule reads: a patch is only checked against the rules of what it changes. */
export const RULE_FIELDS: Record<PolicyRule, readonly string[]> = {
  'naming.pattern': ['name'],
  'naming.denyList': ['name'],
  'naming.environment': ['name'],
  requireOwner: ['owner'],
  maxLifetimeDays: ['expiresAt'],
  allowWildcards: ['permissions'],
};

/**
 * Every rule the key breaks, each with a detail naming the rule and the offending value.
 * @example violations({ name: 'test', … }, DEFAULT_POLICY)[0].rule // 'naming.pattern'
 */
export function violations(k: KeyFacts, p: Policy): Violation[] {
  const out: Violation[] = [];
  const env = p.environments[k.environment];
  const matches = matchesNamingPattern(p.naming.pattern, k.name);
  if (matches === null) {
    // A pattern stored before patterns were checked: refuse names until the policy is fixed.
    out.push({
      rule: 'naming.pattern',
      detail: `the policy's naming pattern is not a valid RE2 pattern of at most 256 characters; replace it (PUT /v1/policy)`,
    });
  } else if (!matches) {
    out.push({
      rule: 'naming.pattern',
      detail: `name "${k.name}" does not match the naming pattern ${p.naming.pattern}`,
    });
  }
  const extra = p.naming.teamPattern;
  const extraMatches = extra == null ? true : matchesNamingPattern(extra, k.name);
  if (extraMatches === null) {
    out.push({
      rule: 'naming.pattern',
      detail: `the team's naming pattern is not a valid RE2 pattern of at most 256 characters; replace it (PUT /v1/teams/{team}/policy)`,
    });
  } else if (!extraMatches) {
    out.push({
      rule: 'naming.pattern',
      detail: `name "${k.name}" does not match the team's naming pattern ${extra}`,
    });
  }
  const segments = k.name.split('-');
  const envAt = segments.findIndex((s) => ENV_TOKENS[s] !== undefined);
  const denied = new Set(p.naming.denyList);
  const parts = [k.name, segments[0] ?? '', envAt >= 0 ? segments.slice(envAt + 1).join('-') : ''];
  const generic = parts.find((s) => denied.has(s));
  if (generic !== undefined) {
    out.push({
      rule: 'naming.denyList',
      detail: `"${generic}" in name "${k.name}" is a generic name; say which system and purpose`,
    });
  }
  if (p.naming.requireEnvironmentSegment) {
    const token = envAt >= 0 ? (segments[envAt] ?? '') : undefined;
    if (token === undefined) {
      out.push({
        rule: 'naming.environment',
        detail: `name "${k.name}" has no environment segment (prod, stg, dev…) for a ${k.environment} key`,
      });
    } else if (ENV_TOKENS[token] !== k.environment) {
      out.push({ rule: 'naming.environment', detail: `"${token}" in the name of a ${k.environment} key` });
    }
  }
  if (p.requireOwner && (k.owner.team === null || k.owner.contact === null)) {
    out.push({
      rule: 'requireOwner',
      detail: `the key needs an owner team and contact (got team ${k.owner.team ?? 'none'}, contact ${k.owner.contact ?? 'none'})`,
    });
  }
  if (env.maxLifetimeDays !== null) {
    const limitMs = Date.parse(k.createdAt) + env.maxLifetimeDays * 86_400_000;
    if (k.expiresAt === null) {
      out.push({
        rule: 'maxLifetimeDays',
        detail: `${k.environment} keys need an expiresAt within ${env.maxLifetimeDays} days`,
      });
    } else if (Date.parse(k.expiresAt) > limitMs) {
      out.push({
        rule: 'maxLifetimeDays',
        detail: `expiresAt ${k.expiresAt} is beyond the ${env.maxLifetimeDays}-day limit for ${k.environment} keys (at most ${new Date(limitMs).toISOString()})`,
      });
    }
  }
  if (!env.allowWildcards) {
    const wild = k.permissions.find(hasWildcard);
    if (wild !== undefined)
      out.push({
        rule: 'allowWildcards',
        detail: `wildcard permission "${wild}" is not allowed for ${k.environment} keys`,
      });
  }
  return out;
}

/** Completes a partial policy document with the defaults (used for PUT and for stored documents). */
export function withDefaults(p: DeepPartial<Policy>): Policy {
  const d = DEFAULT_POLICY;
  const env = (e: Environment): EnvironmentPolicy => ({
    ...d.environments[e],
    ...(p.environments?.[e] ?? {}),
  });
  return {
    naming: { ...d.naming, ...(p.naming ?? {}) } as Policy['naming'],
    requireOwner: p.requireOwner ?? d.requireOwner,
    environments: { production: env('production'), staging: env('staging'), development: env('development') },
    rotationWarningDays: p.rotationWarningDays ?? d.rotationWarningDays,
    staleAfterDays: p.staleAfterDays ?? d.staleAfterDays,
    sharedKeyThreshold: p.sharedKeyThreshold ?? d.sharedKeyThreshold,
  };
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> | null : T[K] };

/** A rule of a team policy that would loosen the deployment's, with the value that does. */
export interface Loosening {
  rule: string;
  detail: string;
}

const ENVIRONMENTS: readonly Environment[] = ['production', 'staging', 'development'];

/** Requests per second a rate limit allows (to compare limits of different windows). */
const rate = (l: RateLimit): number => l.limit / l.windowSeconds;

/**
 * Every value of a team policy document that is looser than the deployment policy `base`. A team
 * policy may only tighten: another naming pattern (which must match as well), more denied
 * names, the environment segment and an owner required, a lower (or a first) lifetime, wildcards
 * off, a default rate limit no more generous, earlier rotation warnings, a shorter stale period
 * and a lower shared-key threshold.
 * @example tighteningViolations({ requireOwner: false }, DEFAULT_POLICY)[0].rule // 'requireOwner'
 */
export function tighteningViolations(team: DeepPartial<Policy>, base: Policy): Loosening[] {
  const out: Loosening[] = [];
  const stricter = (rule: string, ok: boolean, detail: string): void => {
    if (!ok) out.push({ rule, detail });
  };
  const n = team.naming ?? {};
  if (n.requireEnvironmentSegment === false)
    stricter(
      'naming.requireEnvironmentSegment',
      !base.naming.requireEnvironmentSegment,
      'the deployment requires an environment segment in names; a team policy cannot turn it off',
    );
  if (team.requireOwner === false)
    stricter(
      'requireOwner',
      !base.requireOwner,
      'the deployment requires an owner; a team policy cannot turn requireOwner off',
    );
  for (const e of ENVIRONMENTS) {
    const t = team.environments?.[e];
    if (t == null) continue;
    const b = base.environments[e];
    if (t.maxLifetimeDays !== undefined && b.maxLifetimeDays !== null)
      stricter(
        `environments.${e}.maxLifetimeDays`,
        t.maxLifetimeDays !== null && t.maxLifetimeDays <= b.maxLifetimeDays,
        `${e} keys may live at most ${b.maxLifetimeDays} days in this deployment; the team policy asks ${t.maxLifetimeDays ?? 'no limit'}`,
      );
    if (t.allowWildcards === true)
      stricter(
        `environments.${e}.allowWildcards`,
        b.allowWildcards,
        `wildcards are not allowed for ${e} keys in this deployment; a team policy cannot allow them`,
      );
    if (t.defaultRateLimit !== undefined && b.defaultRateLimit !== null) {
      const tl = t.defaultRateLimit;
      stricter(
        `environments.${e}.defaultRateLimit`,
        tl != null &&
          tl.limit !== undefined &&
          tl.windowSeconds !== undefined &&
          rate(tl) <= rate(b.defaultRateLimit),
        `the deployment's default rate limit for ${e} keys is ${b.defaultRateLimit.limit} per ${b.defaultRateLimit.windowSeconds}s; a team default must be no more generous`,
      );
    }
  }
  if (team.rotationWarningDays != null)
    stricter(
      'rotationWarningDays',
      team.rotationWarningDays >= base.rotationWarningDays,
      `rotation warnings start ${base.rotationWarningDays} days ahead in this deployment; a team may only warn earlier`,
    );
  if (team.staleAfterDays != null)
    stricter(
      'staleAfterDays',
      team.staleAfterDays <= base.staleAfterDays,
      `keys are stale after ${base.staleAfterDays} days in this deployment; a team may only shorten that`,
    );
  if (team.sharedKeyThreshold != null)
    stricter(
      'sharedKeyThreshold',
      team.sharedKeyThreshold <= base.sharedKeyThreshold,
      `the deployment's shared-key threshold is ${base.sharedKeyThreshold}; a team may only lower it`,
    );
  return out;
}

/**
 * The policy a team's keys follow: the deployment policy `base` with the team's document on top,
 * each value the stricter of the two (so a deployment tightened later still wins over a team value
 * that was stricter when it was set).
 */
export function effectivePolicy(base: Policy, team: DeepPartial<Policy> | undefined): Policy {
  if (team === undefined) return base;
  const minNullable = (a: number | null, b: number | null | undefined): number | null =>
    b == null ? a : a === null ? b : Math.min(a, b);
  const env = (e: Environment): EnvironmentPolicy => {
    const b = base.environments[e];
    const t = team.environments?.[e] ?? {};
    const tl = t.defaultRateLimit;
    const teamLimit =
      tl?.name !== undefined && tl.limit !== undefined && tl.windowSeconds !== undefined ? tl : null;
    return {
      maxLifetimeDays: minNullable(b.maxLifetimeDays, t.maxLifetimeDays),
      allowWildcards: b.allowWildcards && t.allowWildcards !== false,
      defaultRateLimit:
        teamLimit === null
          ? b.defaultRateLimit
          : b.defaultRateLimit === null || rate(teamLimit) < rate(b.defaultRateLimit)
            ? teamLimit
            : b.defaultRateLimit,
    };
  };
  return {
    naming: {
      pattern: base.naming.pattern,
      denyList: [...new Set([...base.naming.denyList, ...((team.naming?.denyList ?? []) as string[])])],
      requireEnvironmentSegment:
        base.naming.requireEnvironmentSegment || team.naming?.requireEnvironmentSegment === true,
      teamPattern: team.naming?.pattern ?? null,
    },
    requireOwner: base.requireOwner || team.requireOwner === true,
    environments: { production: env('production'), staging: env('staging'), development: env('development') },
    rotationWarningDays: Math.max(base.rotationWarningDays, team.rotationWarningDays ?? 0),
    staleAfterDays: Math.min(base.staleAfterDays, team.staleAfterDays ?? Infinity),
    sharedKeyThreshold: Math.min(base.sharedKeyThreshold, team.sharedKeyThreshold ?? Infinity),
  };
}
