import type { Kysely } from 'kysely';
import { KeywardenError } from '../core/errors.js';
import {
  checkIdentityFields,
  type IdentityInput,
  type IdentityPatch,
  type IdentityRecord,
} from '../core/identity.js';
import { newId } from '../core/ids.js';
import { toPage } from '../core/page.js';
import type { Actor } from '../core/model.js';
import { appendAudit } from '../storage/audit-repo.js';
import { isUniqueViolation } from '../storage/db.js';
import {
  deleteIdentity,
  getIdentityRow,
  identityPatchToChanges,
  identityToRow,
  identityUsage,
  insertIdentity,
  listIdentityRows,
  toIdentity,
  updateIdentity,
  type IdentityFilter,
  hasLinkedKeys,
} from '../storage/identities-repo.js';
import type { Database } from '../storage/schema.js';
import type { ServiceContext } from './context.js';

const notFound = (id: string): KeywardenError => new KeywardenError('NOT_FOUND', `no identity with id ${id}`);
const taken = (externalId: string): KeywardenError =>
  new KeywardenError('CONFLICT', `an identity with externalId "${externalId}" already exists`);
/** Optimistic updates retry this often on a concurrent change before answering 409. */
const MAX_ATTEMPTS = 5;

/**
 * Identities (issue 22; docs/identities.md): team-scoped exactly like keys. Each change is one
 * transaction with its audit row; the cache entries of every key of the identity are dropped on
 * this node and on the others (one bus message, by the identity's id) before the call returns.
 */
export class IdentitiesService {
  constructor(private readonly ctx: ServiceContext) {}

  private get db(): Kysely<Database> {
    return this.ctx.storage.db;
  }

  async create(actor: Actor, input: IdentityInput): Promise<IdentityRecord> {
    const now = this.ctx.clock.now();
    checkIdentityFields(input, now);
    const team = input.owner?.team ?? actor.team;
    if (actor.team !== null && team !== actor.team) {
      throw new KeywardenError(
        'FORBIDDEN',
        `this admin key manages team "${actor.team}" only, not "${team ?? ''}"`,
      );
    }
    const at = new Date(now).toISOString();
    const record: IdentityRecord = {
      id: newId('idn', now),
      externalId: input.externalId,
      name: input.name ?? null,
      owner: { team: team ?? null, contact: input.owner?.contact ?? null },
      ratelimits: input.ratelimits ?? [],
      credits: input.credits
        ? { remaining: input.credits.remaining, refill: input.credits.refill ?? null }
        : null,
      metadata: input.metadata ?? {},
      createdAt: at,
      createdBy: actor.id,
      updatedAt: at,
      version: 1,
    };
    try {
      await this.db.transaction().execute(async (trx) => {
        await insertIdentity(trx, identityToRow(record));
        await appendAudit(trx, {
          at,
          actor: actor.id,
          action: 'identity.create',
          target: record.id,
          before: null,
          after: record,
          ip: actor.ip,
          team: record.owner.team,
        });
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw taken(input.externalId);
      throw err;
    }
    return record;
  }

  async get(actor: Actor, id: string): Promise<IdentityRecord> {
    const row = await getIdentityRow(this.db, id);
    if (row === undefined || (actor.team !== null && row.owner_team !== actor.team)) throw notFound(id);
    return toIdentity(row);
  }

  async list(
    actor: Actor,
    filter: IdentityFilter,
    limit: number,
    cursor: string | undefined,
  ): Promise<{ items: IdentityRecord[]; nextCursor: string | null }> {
    if (actor.team !== null) {
      if (filter.team !== undefined && filter.team !== actor.team)
        throw new KeywardenError('FORBIDDEN', `this admin key sees team "${actor.team}" only`);
      filter = { ...filter, team: actor.team };
    }
    const rows = await listIdentityRows(this.db, filter, limit + 1, cursor);
    return toPage(rows, limit, (r) => r.id, toIdentity);
  }

  async update(actor: Actor, id: string, patch: IdentityPatch): Promise<IdentityRecord> {
    if (Object.keys(patch).length === 0)
      throw new KeywardenError('VALIDATION_FAILED', 'the patch changes nothing');
    checkIdentityFields(patch, this.ctx.clock.now());
    if (
      actor.team !== null &&
      (patch.owner === null || (patch.owner?.team !== undefined && patch.owner.team !== actor.team))
    ) {
      throw new KeywardenError(
        'FORBIDDEN',
        `this admin key is limited to team "${actor.team}"; its identities keep that team`,
      );
    }
    // A new balance replaces the old one: write pending uses first so they are not subtracted from it.
    if (patch.credits !== undefined) await this.ctx.usage.flush();
    for (let attempt = 1; ; attempt++) {
      const at = new Date(this.ctx.clock.now()).toISOString();
      let result: IdentityRecord | null;
      try {
        result = await this.db.transaction().execute(async (trx) => {
          const before = await this.lockedOf(actor, trx, id);
          const owner =
            patch.owner === undefined
              ? before.owner
              : patch.owner === null
                ? { team: null, contact: null }
                : {
                    team: patch.owner.team !== undefined ? patch.owner.team : before.owner.team,
                    contact: patch.owner.contact !== undefined ? patch.owner.contact : before.owner.contact,
                  };
          if (owner.team !== before.owner.team) {
            // A key links only to an identity of its own team: moving one with keys would break that.
            if (await hasLinkedKeys(trx, id))
              throw new KeywardenError(
                'CONFLICT',
                `identity ${id} has keys linked to it; unlink them (PATCH /v1/keys/{id} with identityId null) before changing its team`,
              );
          }
          const ok = await updateIdentity(trx, id, before.version, {
            ...identityPatchToChanges(patch, owner),
            updated_at: at,
          });
          if (!ok) return null;
          const afterRow = await getIdentityRow(trx, id);
          if (afterRow === undefined) throw notFound(id);
          const after = toIdentity(afterRow);
          await appendAudit(trx, {
            at,
            actor: actor.id,
            action: 'identity.update',
            target: id,
            before,
            after,
            ip: actor.ip,
            team: after.owner.team,
          });
          return after;
        });
      } catch (err) {
        if (isUniqueViolation(err) && patch.externalId !== undefined) throw taken(patch.externalId);
        throw err;
      }
      if (result !== null) {
        // Only a new balance resets the limiter's (a reset re-reads storage, which lags by one flush).
        if (patch.credits !== undefined) this.ctx.limiter.resetCredits(id);
        await this.invalidate(id);
        return result;
      }
      if (attempt >= MAX_ATTEMPTS)
        throw new KeywardenError('CONFLICT', `identity ${id} kept changing concurrently; try again`);
    }
  }

  /** Deletes the identity; its keys are unlinked (they keep their own limits) in the same transaction. */
  async remove(actor: Actor, id: string): Promise<IdentityRecord & { unlinkedKeys: number }> {
    const at = new Date(this.ctx.clock.now()).toISOString();
    const out = await this.db.transaction().execute(async (trx) => {
      const before = await this.lockedOf(actor, trx, id);
      const unlinkedKeys = await deleteIdentity(trx, id, at);
      await appendAudit(trx, {
        at,
        actor: actor.id,
        action: 'identity.delete',
        target: id,
        before,
        after: { unlinkedKeys },
        ip: actor.ip,
        team: before.owner.team,
      });
      return { ...before, unlinkedKeys };
    });
    this.ctx.limiter.resetCredits(id);
    await this.invalidate(id);
    return out;
  }

  /** Verifications per day and outcome, summed over the identity's keys. */
  async usage(
    actor: Actor,
    id: string,
    days: number,
  ): Promise<{
    identityId: string;
    keys: number;
    days: { day: string; counts: Record<string, number> }[];
    totals: Record<string, number>;
  }> {
    const identity = await this.get(actor, id);
    const since = new Date(this.ctx.clock.now() - (days - 1) * 86_400_000).toISOString().slice(0, 10);
    const u = await identityUsage(this.db, identity.id, since);
    return { identityId: identity.id, keys: u.keys, days: u.days, totals: u.totals };
  }

  private async lockedOf(actor: Actor, trx: Kysely<Database>, id: string): Promise<IdentityRecord> {
    const row = await getIdentityRow(trx, id, this.ctx.storage.dialect === 'postgres');
    if (row === undefined || (actor.team !== null && row.owner_team !== actor.team)) throw notFound(id);
    return toIdentity(row);
  }

  /** Drops the cache entries of every key of the identity here, and tells the other nodes. */
  private async invalidate(id: string): Promise<void> {
    this.ctx.cache.invalidateKey(id);
    await this.ctx.bus.publish(id).catch((err: unknown) => {
      this.ctx.log.warn(
        { err, identityId: id },
        'could not publish a cache invalidation; other nodes rely on their TTL',
      );
    });
  }
}
