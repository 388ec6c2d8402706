import type { Environment } from './keys.js';
import type { KeyRecord } from './model.js';
import type { Narrowing } from './narrowing.js';
import { allows, compileGrants, hasWildcard, type Grants } from './permissions.js';
import { violations, type Policy } from './policy.js';
import { effectivePermissions, roleMatching } from './roles.js';

/** What the report knows of usage, gathered by storage over the policy window. */
export interface UsageFacts {
  /** keyId → permissions observed in VALID verifications (as checked: `agents:invoke:agt_42`). */
  usedPermissions: Map<string, string[]>;
  /** keyId → the busiest day by distinct client IPs and by distinct user agents. */
  busiestDay: Map<string, { day: string; ips: number; userAgents: number }>;
  /** keyId → verifications of this (non-production) key by a production verifier. */
  productionMismatches: Map<string, { count: number; lastAt: string }>;
}

export interface Finding {
  keyId: string;
  name: string;
  environment: Environment;
  reason: string;
  [detail: string]: unknown;
}

export const SECTIONS = [
  'unowned',
  'stale',
  'overPrivileged',
  'testKeysInProduction',
  'rotationDue',
  'sharedKeys',
  'nonCompliant',
  // Narrowings whose shadow period ended with nothing refused, not applied yet (docs/narrowing.md).
  'narrowingReady',
  'imported',
] as const;
export type Section = (typeof SECTIONS)[number];
export type GovernanceReport = Record<Section, Finding[]> & {
  generatedAt: string;
  summary: Record<Section, number>;
};

/** "1 time", "3 times", "1 day". */
const times = (n: number, one: string): string => `${n} ${n === 1 ? one : `${one}s`}`;

/**
 * The key's grants that a used value no grant of the key allows any more covers. Past a key's daily
 * cap, usage counts a call as the grant that allowed it (`agents:*` for `agents:invoke` on
 * `agt_42`, storage/usage-batch.ts); once the key is narrowed (to `agents:invoke`), nothing it holds
 * allows that value, yet the calls it stands for were under what it holds now. Those grants count as
 * used and stay in the suggestion, so a suggestion never drops what such calls needed. Conservative:
 * a lost grant's own calls make the grants within it look used too.
 */
function coveredByLostGrants(
  grants: Grants,
  permissions: readonly string[],
  used: readonly string[],
): Set<string> {
  const lost = used.filter((u) => !allows(grants, u)).map((u) => compileGrants([u]));
  return new Set(lost.length === 0 ? [] : permissions.filter((g) => lost.some((l) => allows(l, g))));
}

/** Unused grants are only judged on keys that have lived this long (a new key has not used anything yet). */
export const UNUSED_GRANT_MIN_AGE_DAYS = 7;
const DAY = 86_400_000;

/**
 * The hygiene report (SPEC §4), computed from records only: pure, so every rule is testable
 * with a fixed clock and hand-made usage.
 */
export function governanceReport(
  keys: readonly KeyRecord[],
  adminTeams: ReadonlySet<string>,
  usage: UsageFacts,
  policy: Policy,
  nowMs: number,
  /** The policy a team's keys follow (its team policy); default: `policy` for every key. */
  policyFor: (team: string | null) => Policy = () => policy,
  /** keyId → its narrowing, for the keys that have one. */
  narrowings: ReadonlyMap<string, Narrowing> = new Map(),
  /** Every role's permissions: keys are judged on their effective set, and suggestions name a role. */
  roles: ReadonlyMap<string, readonly string[]> = new Map(),
): GovernanceReport {
  const r: Record<Section, Finding[]> = {
    unowned: [],
    stale: [],
    overPrivileged: [],
    testKeysInProduction: [],
    rotationDue: [],
    sharedKeys: [],
    nonCompliant: [],
    narrowingReady: [],
    imported: [],
  };
  const staleMs = policy.staleAfterDays * DAY;
  for (const k of keys) {
    if (k.status === 'deleted') continue;
    // The team and status let a reader group findings by team and tell handled keys apart.
    const base = {
      keyId: k.id,
      name: k.name,
      environment: k.environment,
      team: k.owner.team,
      status: k.status,
    };
    const live = k.status === 'active';
    const permissions = effectivePermissions(k.permissions, k.roles, roles);

    if (k.imported !== null) {
      r.imported.push({
        ...base,
        reason: `imported on ${k.imported.at.slice(0, 10)} from its ${k.imported.from === 'hash' ? 'SHA-256 hash' : 'plaintext'}: its string is not in this deployment's format (no checksum, no environment); regenerate it (POST /v1/keys/${k.id}/regenerate) to issue a Keywarden key`,
        importedAt: k.imported.at,
        from: k.imported.from,
      });
    }

    if (k.owner.team === null || k.owner.contact === null) {
      r.unowned.push({
        ...base,
        reason: `no owner ${k.owner.team === null ? 'team' : 'contact'}`,
        owner: k.owner,
      });
    } else if (!adminTeams.has(k.owner.team)) {
      r.unowned.push({
        ...base,
        reason: `team "${k.owner.team}" has no active admin key to answer for it`,
        owner: k.owner,
      });
    }

    const age = nowMs - Date.parse(k.createdAt);
    if (live) {
      if (k.lastUsedAt === null && age >= staleMs) {
        r.stale.push({
          ...base,
          reason: `never used since its creation ${Math.floor(age / DAY)} days ago`,
          lastUsedAt: null,
        });
      } else if (k.lastUsedAt !== null && nowMs - Date.parse(k.lastUsedAt) >= staleMs) {
        r.stale.push({
          ...base,
          reason: `unused for ${Math.floor((nowMs - Date.parse(k.lastUsedAt)) / DAY)} days (policy: ${policy.staleAfterDays})`,
          lastUsedAt: k.lastUsedAt,
        });
      }

      const used = usage.usedPermissions.get(k.id) ?? [];
      const grants = compileGrants(permissions);
      const covered = coveredByLostGrants(grants, permissions, used);
      const wildcards = permissions.filter(hasWildcard);
      const unused =
        age >= UNUSED_GRANT_MIN_AGE_DAYS * DAY
          ? permissions.filter((g) => !covered.has(g) && !used.some((u) => allows(compileGrants([g]), u)))
          : [];
      if (wildcards.length > 0 || unused.length > 0) {
        const suggested = [...new Set([...used.filter((u) => allows(grants, u)), ...covered])].sort();
        const role = roleMatching(suggested, roles);
        const reasons = [
          ...(wildcards.length > 0 ? [`wildcard grants ${wildcards.join(', ')}`] : []),
          ...(unused.length > 0 ? [`not used in ${policy.staleAfterDays} days: ${unused.join(', ')}`] : []),
        ];
        r.overPrivileged.push({
          ...base,
          reason: reasons.join('; '),
          granted: permissions,
          unusedPermissions: unused,
          suggestedPermissions: suggested,
          // A role whose permissions are exactly the observed use: hold it instead.
          ...(role === undefined ? {} : { suggestedRole: role }),
        });
      }

      if (k.expiresAt !== null) {
        const left = Date.parse(k.expiresAt) - nowMs;
        if (left <= policy.rotationWarningDays * DAY) {
          r.rotationDue.push({
            ...base,
            reason:
              left <= 0
                ? `expired at ${k.expiresAt}`
                : `expires in ${times(Math.ceil(left / DAY), 'day')} (${k.expiresAt})`,
            expiresAt: k.expiresAt,
          });
        }
      }
      const maxLife = policy.environments[k.environment].maxLifetimeDays;
      const since = Date.parse(k.rotatedAt ?? k.createdAt);
      if (maxLife !== null && nowMs - since > maxLife * DAY && !r.rotationDue.some((f) => f.keyId === k.id)) {
        r.rotationDue.push({
          ...base,
          reason: `secret is ${Math.floor((nowMs - since) / DAY)} days old (policy lifetime: ${maxLife})`,
        });
      }

      const busy = usage.busiestDay.get(k.id);
      if (
        busy !== undefined &&
        (busy.ips > policy.sharedKeyThreshold || busy.userAgents > policy.sharedKeyThreshold)
      ) {
        r.sharedKeys.push({
          ...base,
          reason: `seen from ${busy.ips} client IPs and ${busy.userAgents} user agents on ${busy.day} (threshold ${policy.sharedKeyThreshold}): several systems may share it`,
          ...busy,
        });
      }
    }

    const mismatch = usage.productionMismatches.get(k.id);
    if (mismatch !== undefined && k.environment !== 'production') {
      r.testKeysInProduction.push({
        ...base,
        reason: `${k.environment} key presented to a production verifier ${times(mismatch.count, 'time')} (last ${mismatch.lastAt})`,
        ...mismatch,
      });
    }

    const narrowing = narrowings.get(k.id);
    if (live && narrowing !== undefined && narrowing.state === 'ready') {
      r.narrowingReady.push({
        ...base,
        reason: `no call in the shadow period ${narrowing.startedAt} – ${narrowing.endsAt} needed more than [${narrowing.permissions.join(', ')}]`,
        granted: k.permissions,
        narrowerPermissions: narrowing.permissions,
        endsAt: narrowing.endsAt,
      });
    }

    const broken = violations({ ...k, permissions, createdAt: k.createdAt }, policyFor(k.owner.team));
    if (broken.length > 0) {
      r.nonCompliant.push({
        ...base,
        reason: broken.map((v) => `${v.rule}: ${v.detail}`).join('; '),
        rules: broken.map((v) => v.rule),
      });
    }
  }
  const summary = Object.fromEntries(SECTIONS.map((s) => [s, r[s].length])) as Record<Section, number>;
  return { ...r, generatedAt: new Date(nowMs).toISOString(), summary };
}
