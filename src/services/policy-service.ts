import { KeywardenError } from '../core/errors.js';
import type { Actor, KeyRecord } from '../core/model.js';
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
import { policyPreview, type PolicyPreview } from '../core/policy-preview.js';
import { appendAudit } from '../storage/audit-repo.js';
import { liveKeyRows, toRecord } from '../storage/keys-repo.js';
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
    const next = PolicyService.checkedDeployment(doc);
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
    const base = await this.get();
    PolicyService.checkTeamDoc(doc, base);
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

  /** A deployment policy document as PUT would store it, or the same 422 PUT would answer. */
  private static checkedDeployment(doc: DeepPartial<Policy>): Policy {
    const next = withDefaults(doc);
    const refused = namingPatternProblem(next.naming.pattern);
    if (refused !== null) throw new KeywardenError('VALIDATION_FAILED', refused, 422);
    return next;
  }

  /** Refuses a team policy document as PUT would: a bad pattern, or any value looser than `base`. */
  private static checkTeamDoc(doc: DeepPartial<Policy>, base: Policy): void {
    const pattern = doc.naming?.pattern;
    if (pattern != null) {
      // The same linear-time engine and limits as the deployment's pattern (no ReDoS via a team).
      const problem = namingPatternProblem(pattern);
      if (problem !== null) throw new KeywardenError('VALIDATION_FAILED', problem, 422);
    }
    const loose = tighteningViolations(doc, base)[0];
    if (loose !== undefined) {
      throw new KeywardenError(
        'POLICY_VIOLATION',
        `team policy rule ${loose.rule} would loosen the deployment policy: ${loose.detail}`,
      );
    }
  }

  /** The keys of `team` (null: every team) not deleted, as records. */
  private async liveKeys(team: string | null): Promise<KeyRecord[]> {
    const at = nowIso(this.ctx);
    return (await liveKeyRows(this.ctx.storage.db, team)).map((r) => toRecord(r, at));
  }

  /**
   * What PUT /v1/policy with `doc` would do to existing keys, changing nothing: every key (of
   * every team, with its team's policy applied on top of the new deployment policy) that would
   * stop complying, by rule. Refuses what PUT refuses, with the same problem.
   */
  async preview(doc: DeepPartial<Policy>): Promise<PolicyPreview> {
    const nextBase = PolicyService.checkedDeployment(doc);
    const current = await this.resolver();
    const docs = await listMetaPrefix(this.ctx.storage.db, TEAM_POLICY_PREFIX);
    const teamDocs = new Map(
      docs.map(([name, raw]) => [
        name.slice(TEAM_POLICY_PREFIX.length),
        JSON.parse(raw) as DeepPartial<Policy>,
      ]),
    );
    const next = (team: string | null): Policy =>
      team === null ? nextBase : effectivePolicy(nextBase, teamDocs.get(team));
    return policyPreview(await this.liveKeys(null), current, next);
  }

  /** What PUT /v1/teams/{team}/policy with `doc` would do to the team's keys, changing nothing. */
  async previewTeam(team: string, doc: DeepPartial<Policy>): Promise<PolicyPreview> {
    const base = await this.get();
    PolicyService.checkTeamDoc(doc, base);
    const current = effectivePolicy(base, await this.teamDoc(team));
    const next = effectivePolicy(base, doc);
    return policyPreview(
      await this.liveKeys(team),
      () => current,
      () => next,
    );
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
