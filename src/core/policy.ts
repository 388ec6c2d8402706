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
  naming: { pattern: string; denyList: string[]; requireEnvironmentSegment: boolean };
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
