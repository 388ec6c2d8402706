import { governanceReport, type GovernanceReport } from '../core/governance.js';
import type { Actor } from '../core/model.js';
import { parseNarrowing, type Narrowing } from '../core/narrowing.js';
import { findKeys, MAX_LEAK_KEYS } from '../core/scan.js';
import { appendAudit } from '../storage/audit-repo.js';
import {
  findAdminByHash,
  setAdminLeaked,
  setAdminStatus,
  toAdminRecord,
} from '../storage/admin-keys-repo.js';
import { activeAdminTeams, usageFacts } from '../storage/governance-repo.js';
import { rolePermissions } from '../storage/roles-repo.js';
import { expireSecret, findByHash, liveKeyRows, markSecretLeaked, toRecord } from '../storage/keys-repo.js';
import type { AdminService } from './admin-service.js';
import { nowIso, type ServiceContext } from './context.js';
import type { KeysService } from './keys-service.js';
import type { PolicyService } from './policy-service.js';

const narrowingsOf = (rows: { id: string; narrowing: string | null }[]): Map<string, Narrowing> => {
  const out = new Map<string, Narrowing>();
  for (const r of rows) {
    const n = parseNarrowing(r.narrowing);
    if (n !== null) out.set(r.id, n);
  }
  return out;
};

export type LeakAction = 'disabled' | 'already_disabled' | 'grace_ended' | 'inactive' | 'unknown';

export interface LeakFinding {
  masked: string;
  kind: 'key' | 'admin_key';
  keyId: string | null;
  action: LeakAction;
  line: number;
}

/** The hygiene report and the leaked-key response (SPEC §3, §4). */
export class GovernanceService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly keys: KeysService,
    private readonly admin: AdminService,
    private readonly policies: PolicyService,
  ) {}

  async report(actor: Actor): Promise<GovernanceReport> {
    const now = this.ctx.clock.now();
    const at = new Date(now).toISOString();
    const policyFor = await this.policies.resolver();
    const policy = policyFor(actor.team);
    const { db } = this.ctx.storage;
    const rows = await liveKeyRows(db, actor.team);
    const since = new Date(now - policy.staleAfterDays * 86_400_000);
    const [teams, usage, roles] = await Promise.all([
      activeAdminTeams(db, at),
      usageFacts(db, since.toISOString().slice(0, 10), since.toISOString()),
      rolePermissions(db),
    ]);
    return governanceReport(
      rows.map((r) => toRecord(r, at)),
      teams,
      usage,
      policy,
      now,
      policyFor,
      narrowingsOf(rows),
      roles,
    );
  }

  /**
   * Finds every key of this deployment in `text` and takes it out of service at once: a current
   * secret disables its key (`disabledReason: "leaked"`), a rotated secret still in its grace
   * window has the window ended, a leaked admin key is disabled. Each action is audited as
   * `key.leak`. Answers with masked forms only.
   */
  async reportLeak(actor: Actor, text: string): Promise<{ found: LeakFinding[] }> {
    const found: LeakFinding[] = [];
    const { db } = this.ctx.storage;
    const keys = findKeys(text, this.ctx.prefix, MAX_LEAK_KEYS);
    for (const [i, f] of keys.entries()) {
      // Let verifications in between: with SQLite each lookup below runs on this thread.
      if (i % 8 === 7) await new Promise<void>((resolve) => setImmediate(resolve));
      const hash = this.ctx.hasher(f.key);
      const base = { masked: f.masked, line: f.line };
      if (f.kind === 'admin') {
        const row = await findAdminByHash(db, hash);
        if (row === undefined || (actor.team !== null && row.team !== actor.team)) {
          found.push({ ...base, kind: 'admin_key', keyId: null, action: 'unknown' });
          continue;
        }
        if (row.status !== 'active') {
          // Still marked: enabling it again must wait for a new secret.
          if (row.status === 'disabled') await setAdminLeaked(db, row.id, nowIso(this.ctx));
          found.push({
            ...base,
            kind: 'admin_key',
            keyId: row.id,
            action: row.status === 'disabled' ? 'already_disabled' : 'inactive',
          });
          continue;
        }
        const at = nowIso(this.ctx);
        const before = toAdminRecord(row, at);
        await db.transaction().execute(async (trx) => {
          await setAdminStatus(trx, row.id, 'disabled', at);
          await setAdminLeaked(trx, row.id, at);
          await appendAudit(trx, {
            team: row.team,
            at,
            actor: actor.id,
            action: 'key.leak',
            target: row.id,
            before,
            after: { ...before, status: 'disabled', disabledAt: at },
            ip: actor.ip,
          });
        });
        this.admin.resetCache(row.id);
        await this.ctx.bus.publish(row.id).catch(() => undefined);
        this.ctx.events.emit('key.leaked', {
          keyId: row.id,
          name: row.name,
          kind: 'admin_key',
          team: row.team,
        });
        found.push({ ...base, kind: 'admin_key', keyId: row.id, action: 'disabled' });
        continue;
      }
      const hit = await findByHash(db, hash);
      if (hit === null || (actor.team !== null && hit.row.owner_team !== actor.team)) {
        found.push({ ...base, kind: 'key', keyId: null, action: 'unknown' });
        continue;
      }
      const id = hit.row.id;
      const at = nowIso(this.ctx);
      if (hit.secret.expiresAt !== null) {
        if (hit.secret.expiresAt <= at) {
          found.push({ ...base, kind: 'key', keyId: id, action: 'inactive' });
          continue;
        }
        const before = toRecord(hit.row, at);
        await db.transaction().execute(async (trx) => {
          await expireSecret(trx, hash, at);
          await appendAudit(trx, {
            team: hit.row.owner_team,
            at,
            actor: actor.id,
            action: 'key.leak',
            target: id,
            before,
            after: { ...before, leakedSecret: f.masked, graceEndedAt: at },
            ip: actor.ip,
          });
        });
        this.ctx.cache.invalidateKey(id);
        await this.ctx.bus.publish(id).catch(() => undefined);
        this.ctx.events.emit('key.leaked', {
          keyId: id,
          name: hit.row.name,
          environment: hit.row.environment,
          kind: 'rotated_secret',
          team: hit.row.owner_team,
        });
        found.push({ ...base, kind: 'key', keyId: id, action: 'grace_ended' });
        continue;
      }
      if (hit.row.status !== 'active') {
        // Still marked: enabling it again must wait for a new secret.
        if (hit.row.status === 'disabled') await markSecretLeaked(db, hash, at);
        found.push({
          ...base,
          kind: 'key',
          keyId: id,
          action: hit.row.status === 'disabled' ? 'already_disabled' : 'inactive',
        });
        continue;
      }
      await this.keys.setEnabled(actor, id, false, 'leaked', 'key.leak', hash);
      found.push({ ...base, kind: 'key', keyId: id, action: 'disabled' });
    }
    return { found };
  }
}
