import { KeywardenError } from '../core/errors.js';
import type { Actor } from '../core/model.js';
import { namingPatternProblem } from '../core/naming-pattern.js';
import {
  DEFAULT_POLICY,
  RULE_FIELDS,
  effectivePolicy,
  tighteningViolations,
  violations,
  withDefaults,
  type DeepPartial,
  type KeyFacts,
  type Policy,
} from '../core/policy.js';
import { appendAudit } from '../storage/audit-repo.js';
import { getMeta, listMetaPrefix, putMeta } from '../storage/meta-repo.js';
import { nowIso, type ServiceContext } from './context.js';

const TEAM_POLICY_PREFIX = 'team-policy:';
const teamPolicyName = (team: string): string => `${TEAM_POLICY_PREFIX}${team}`;

/** The deployment policy: stored as one JSON document, enforced at key creation and change. */
export class PolicyService {
  constructor(private readonly ctx: ServiceContext) {}

  async get(): Promise<Policy> {
    const raw = await getMeta(this.ctx.storage.db, 'policy');
    return raw === undefined ? DEFAULT_POLICY : withDefaults(JSON.parse(raw) as DeepPartial<Policy>);
  }

  /** Replaces the policy (omitted fields take their defaults). Existing keys are not touched: the report lists those that no longer comply. */
  async put(actor: Actor, doc: DeepPartial<Policy>): Promise<Policy> {
    const next = withDefaults(doc);
    const refused = namingPatternProblem(next.naming.pattern);
    if (refused !== null) throw new KeywardenError('VALIDATION_FAILED', refused, 422);
    const before = await this.get();
    const at = nowIso(this.ctx);
    await this.ctx.storage.db.transaction().execute(async (trx) => {
      await putMeta(trx, 'policy', JSON.stringify(next));
      await appendAudit(trx, {
        at,
        actor: actor.id,
        action: 'policy.update',
        target: 'policy',
        before,
        after: next,
        ip: actor.ip,
      });
    });
    return next;
  }

  /** The stored document of a team's policy (only what it sets), if any. */
  private async teamDoc(team: string): Promise<DeepPartial<Policy> | undefined> {
    const raw = await getMeta(this.ctx.storage.db, teamPolicyName(team));
    return raw === undefined ? undefined : (JSON.parse(raw) as DeepPartial<Policy>);
  }

  /** The policy keys of `team` follow: the deployment's, tightened by the team's (null team: the deployment's). */
  async forTeam(team: string | null): Promise<Policy> {
    const base = await this.get();
    return team === null ? base : effectivePolicy(base, await this.teamDoc(team));
  }

  /** Every team's effective policy, for the governance report (one read of the deployment policy). */
  async resolver(): Promise<(team: string | null) => Policy> {
    const base = await this.get();
    const docs = await listMetaPrefix(this.ctx.storage.db, TEAM_POLICY_PREFIX);
    const byTeam = new Map<string, Policy>();
    for (const [name, raw] of docs) {
      byTeam.set(
        name.slice(TEAM_POLICY_PREFIX.length),
        effectivePolicy(base, JSON.parse(raw) as DeepPartial<Policy>),
      );
    }
    return (team) => (team === null ? base : (byTeam.get(team) ?? base));
  }

  /**
   * Sets a team's policy, which may only tighten the deployment's: any looser value is a
   * POLICY_VIOLATION naming its rule. Answers the effective policy.
   */
  async putTeam(actor: Actor, team: string, doc: DeepPartial<Policy>): Promise<Policy> {
    const pattern = doc.naming?.pattern;
    if (pattern != null) {
      // The same linear-time engine and limits as the deployment's pattern (no ReDoS via a team).
      const problem = namingPatternProblem(pattern);
      if (problem !== null) throw new KeywardenError('VALIDATION_FAILED', problem, 422);
    }
    const base = await this.get();
    const loose = tighteningViolations(doc, base)[0];
    if (loose !== undefined) {
      throw new KeywardenError(
        'POLICY_VIOLATION',
        `team policy rule ${loose.rule} would loosen the deployment policy: ${loose.detail}`,
      );
    }
    const before = (await this.teamDoc(team)) ?? null;
    const at = nowIso(this.ctx);
    await this.ctx.storage.db.transaction().execute(async (trx) => {
      await putMeta(trx, teamPolicyName(team), JSON.stringify(doc));
      await appendAudit(trx, {
        at,
        actor: actor.id,
        action: 'team_policy.update',
        target: `team:${team}`,
        before,
        after: doc,
        ip: actor.ip,
        team,
      });
    });
    return effectivePolicy(base, doc);
  }

  /**
   * Throws POLICY_VIOLATION for the first rule broken. With `changed`, only the rules that read a
   * changed field are checked, so a policy tightened later does not block unrelated edits.
   */
  static enforce(facts: KeyFacts, policy: Policy, changed?: readonly string[]): void {
    const broken = violations(facts, policy).filter(
      (v) => changed === undefined || RULE_FIELDS[v.rule].some((f) => changed.includes(f)),
    );
    const first = broken[0];
    if (first !== undefined)
      throw new KeywardenError('POLICY_VIOLATION', `policy rule ${first.rule}: ${first.detail}`);
  }
}
