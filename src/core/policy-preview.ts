import type { KeyRecord } from './model.js';
import { violations, type Policy, type PolicyRule } from './policy.js';

/** One key that complies with a rule today and would not under the proposed policy. */
export interface PreviewKey {
  keyId: string;
  name: string;
  environment: KeyRecord['environment'];
  team: string | null;
  /** Why it would break the rule, in the words of the creation refusal. */
  detail: string;
}

/** What a policy change would do to existing keys: nothing is changed, keys are only read. */
export interface PolicyPreview {
  /** Keys evaluated: every key of the scope that is not deleted. */
  checked: number;
  /** Distinct keys that would stop complying with at least one rule. */
  affected: number;
  /** Per rule that some key would newly break, the keys and the reason; rules in a fixed order. */
  rules: { rule: PolicyRule; keys: PreviewKey[] }[];
}

const RULE_ORDER: readonly PolicyRule[] = [
  'naming.pattern',
  'naming.denyList',
  'naming.environment',
  'requireOwner',
  'maxLifetimeDays',
  'allowWildcards',
];

/**
 * Which keys would stop complying if `next(team)` replaced `current(team)` as the policy of their
 * team: a key is listed under a rule it keeps today and would break then (a key that already
 * breaks a rule is not listed for it again). Pure: the same rules as creation and the report.
 * @example policyPreview([k], () => DEFAULT_POLICY, () => strict).rules[0]?.rule // 'allowWildcards'
 */
export function policyPreview(
  keys: readonly KeyRecord[],
  current: (team: string | null) => Policy,
  next: (team: string | null) => Policy,
): PolicyPreview {
  const byRule = new Map<PolicyRule, PreviewKey[]>();
  const affected = new Set<string>();
  let checked = 0;
  for (const k of keys) {
    if (k.status === 'deleted') continue;
    checked++;
    const before = new Set(violations(k, current(k.owner.team)).map((v) => v.rule));
    const seen = new Set<PolicyRule>();
    for (const v of violations(k, next(k.owner.team))) {
      if (before.has(v.rule) || seen.has(v.rule)) continue;
      seen.add(v.rule);
      affected.add(k.id);
      const list = byRule.get(v.rule) ?? [];
      list.push({
        keyId: k.id,
        name: k.name,
        environment: k.environment,
        team: k.owner.team,
        detail: v.detail,
      });
      byRule.set(v.rule, list);
    }
  }
  return {
    checked,
    affected: affected.size,
    rules: RULE_ORDER.filter((r) => byRule.has(r)).map((rule) => ({
      rule,
      keys: (byRule.get(rule) ?? []).sort((a, b) => a.name.localeCompare(b.name)),
    })),
  };
}
