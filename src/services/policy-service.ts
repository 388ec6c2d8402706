import { KeywardenError } from '../core/errors.js';
import type { Actor } from '../core/model.js';
import { namingPatternProblem } from '../core/naming-pattern.js';
import {
  DEFAULT_POLICY,
  RULE_FIELDS,
  violations,
  withDefaults,
  type DeepPartial,
  type KeyFacts,
  type Policy,
} from '../core/policy.js';
import { appendAudit } from '../storage/audit-repo.js';
import { getMeta, putMeta } from '../storage/meta-repo.js';
import { nowIso, type ServiceContext } from './context.js';

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
