import type { Kysely } from 'kysely';
import { KeywardenError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { toPage } from '../core/page.js';
import { checkKeyFields, normalizeTime, type KeyInput, type KeyPatch } from '../core/key-input.js';
import { ENV_CODE, generateKey, maskParts } from '../core/keys.js';
import type { Actor, KeyImported, KeyRecord, StoredStatus } from '../core/model.js';
import { effectivePermissions, MAX_ROLES_PER_KEY } from '../core/roles.js';
import { rolePermissions, setKeyRoles } from '../storage/roles-repo.js';
import { isUniqueViolation } from '../storage/db.js';
import { appendAudit } from '../storage/audit-repo.js';
import { getIdentityRow } from '../storage/identities-repo.js';
import {
  addSecret,
  currentSecretLeaked,
  endGraceWindow,
  getKeyRow,
  graceWindow,
  insertKey,
  listKeyRows,
  markSecretLeaked,
  patchToChanges,
  recordToRow,
  retireSecrets,
  toRecord,
  updateKey,
  type KeyChanges,
  type KeyFilter,
} from '../storage/keys-repo.js';
import type { Database } from '../storage/schema.js';
import { nowIso, type ServiceContext } from './context.js';
import { PolicyService } from './policy-service.js';

/** An open rotation grace window: the previous secret works until `previousExpiresAt`. */
export interface Rotation {
  replacedAt: string;
  previousExpiresAt: string;
}

/**
 * A key may link only to an identity of its own team (422 otherwise). An identity of another team
 * is refused with the same words as one that does not exist: its existence is not the caller's to learn.
 */
async function checkIdentityLink(
  db: Kysely<Database>,
  identityId: string | null | undefined,
  team: string | null,
): Promise<void> {
  if (identityId === undefined || identityId === null) return;
  const row = await getIdentityRow(db, identityId);
  if (row === undefined || row.owner_team !== team) {
    throw new KeywardenError(
      'UNKNOWN_REFERENCE',
      team === null
        ? `identityId ${identityId} names no identity without a team (a key links to an identity of its own team)`
        : `identityId ${identityId} names no identity of team "${team}" (a key links to an identity of its own team)`,
    );
  }
}

const notFound = (id: string): KeywardenError => new KeywardenError('NOT_FOUND', `no key with id ${id}`);

/** A key brought in from another system (ImportService): its stored hash and display parts. */
export interface ImportedSecret {
  hash: string;
  start: string;
  end: string;
  from: KeyImported['from'];
}
/** Optimistic updates retry this often on a concurrent change before answering 409. */
const MAX_ATTEMPTS = 5;

/**
 * The admin operations on keys. Each change is one transaction that also appends its audit
 * row; the verification cache is invalidated (and other nodes told) before the call returns.
 */
export class KeysService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly policies: PolicyService,
  ) {}

  private get db(): Kysely<Database> {
    return this.ctx.storage.db;
  }

  /**
   * With `imported`, the key keeps the secret it has elsewhere (no key is generated; `key` is
   * empty) and the change is audited as `key.import`.
   */
  async create(
    actor: Actor,
    input: KeyInput,
    imported?: ImportedSecret,
  ): Promise<{ key: string; record: KeyRecord }> {
    const now = this.ctx.clock.now();
    checkKeyFields(input, now);
    const roleMap = await this.rolesNamed(input.roles);
    const team = input.owner?.team ?? actor.team;
    if (actor.team !== null && team !== actor.team) {
      throw new KeywardenError(
        'FORBIDDEN',
        `this admin key manages team "${actor.team}" only, not "${team ?? ''}"`,
      );
    }
    const at = new Date(now).toISOString();
    const policy = await this.policies.forTeam(team ?? null);
    const owner = { team: team ?? null, contact: input.owner?.contact ?? null };
    PolicyService.enforce(
      {
        name: input.name,
        environment: input.environment,
        owner,
        permissions: effectivePermissions(input.permissions ?? [], input.roles ?? [], roleMap),
        expiresAt: normalizeTime(input.expiresAt),
        createdAt: at,
      },
      policy,
    );
    await checkIdentityLink(this.db, input.identityId, owner.team);
    const defaultLimit = policy.environments[input.environment].defaultRateLimit;
    const key = imported === undefined ? generateKey(this.ctx.prefix, ENV_CODE[input.environment]) : '';
    const { start, end } = imported ?? maskParts(key);
    const record: KeyRecord = {
      id: newId('key', now),
      name: input.name,
      environment: input.environment,
      system: input.system ?? null,
      purpose: input.purpose ?? null,
      owner,
      customerId: input.customerId ?? null,
      identityId: input.identityId ?? null,
      permissions: input.permissions ?? [],
      ratelimits: input.ratelimits ?? (defaultLimit !== null ? [defaultLimit] : []),
      credits: input.credits
        ? { remaining: input.credits.remaining, refill: input.credits.refill ?? null }
        : null,
      ipAllowlist: input.ipAllowlist ?? [],
      expiresAt: normalizeTime(input.expiresAt),
      metadata: input.metadata ?? {},
      status: 'active',
      start,
      end,
      createdAt: at,
      createdBy: actor.id,
      updatedAt: at,
      lastUsedAt: null,
      disabledAt: null,
      disabledReason: null,
      rotatedAt: null,
      version: 1,
      roles: input.roles ?? [],
      imported: imported === undefined ? null : { at, from: imported.from },
    };
    const hash = imported?.hash ?? this.ctx.hasher(key);
    try {
      await this.db.transaction().execute(async (trx) => {
        await insertKey(trx, recordToRow(record, 'active'), hash);
        if (record.roles.length > 0) await setKeyRoles(trx, record.id, record.roles);
        await appendAudit(trx, {
          at,
          actor: actor.id,
          action: imported === undefined ? 'key.create' : 'key.import',
          target: record.id,
          before: null,
          after: record,
          ip: actor.ip,
          team: record.owner.team,
        });
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw new KeywardenError('CONFLICT', `a live key named "${input.name}" already exists`);
      throw err;
    }
    // A negative entry could only exist if someone presented this secret before it existed; drop it anyway.
    this.ctx.cache.invalidateHash(hash);
    return { key, record };
  }

  async get(actor: Actor, id: string): Promise<KeyRecord> {
    const row = await getKeyRow(this.db, id);
    if (row === undefined || (actor.team !== null && row.owner_team !== actor.team)) throw notFound(id);
    return toRecord(row, nowIso(this.ctx));
  }

  /**
   * One key with its open rotation grace window, if any: `rotation` says until when the previous
   * secret keeps working after a regenerate (absent when no previous secret works any more).
   */
  async getWithRotation(actor: Actor, id: string): Promise<KeyRecord & { rotation?: Rotation }> {
    const record = await this.get(actor, id);
    const rotation = await graceWindow(this.db, id, nowIso(this.ctx));
    return rotation === null ? record : { ...record, rotation };
  }

  /**
   * Ends a rotation grace window now: the previous secret stops working at once, on every node
   * (the caches are invalidated as for a disable). 409 when no previous secret still works.
   */
  async endGrace(actor: Actor, id: string): Promise<KeyRecord> {
    // Filled once the window is found, before the audit row is written (it records what was cut short).
    const auditExtra: Record<string, unknown> = {};
    return this.change(actor, id, 'key.end-grace', (_before, at, trx) => ({
      changes: {},
      extra: async () => {
        const window = await graceWindow(trx, id, at);
        if (window === null || (await endGraceWindow(trx, id, at)) === 0)
          throw new KeywardenError('CONFLICT', `key ${id} has no previous secret in a grace window`);
        auditExtra.graceWindowEnded = { ...window, endedAt: at };
      },
      auditExtra,
    }));
  }

  async list(
    actor: Actor,
    filter: KeyFilter,
    limit: number,
    cursor: string | undefined,
  ): Promise<{ items: KeyRecord[]; nextCursor: string | null }> {
    if (actor.team !== null) {
      if (filter.team !== undefined && filter.team !== actor.team) {
        throw new KeywardenError('FORBIDDEN', `this admin key sees team "${actor.team}" only`);
      }
      filter = { ...filter, team: actor.team };
    }
    const now = nowIso(this.ctx);
    const rows = await listKeyRows(this.db, filter, limit + 1, cursor, now);
    return toPage(
      rows,
      limit,
      (r) => r.id,
      (r) => toRecord(r, now),
    );
  }

  async update(actor: Actor, id: string, patch: KeyPatch): Promise<KeyRecord> {
    if (Object.keys(patch).length === 0)
      throw new KeywardenError('VALIDATION_FAILED', 'the patch changes nothing');
    checkKeyFields(patch, this.ctx.clock.now());
    // A new balance replaces the old one: write pending uses first so they are not subtracted from it.
    if (patch.credits !== undefined) await this.ctx.usage.flush();
    // A team-scoped admin's keys always keep its team: neither another team nor none (an
    // ownerless key would drop out of every team's view, this one's included).
    if (actor.team !== null && patch.owner === null) {
      throw new KeywardenError(
        'FORBIDDEN',
        `this admin key is limited to team "${actor.team}"; its keys keep that team (set owner.contact instead of clearing the owner)`,
      );
    }
    if (actor.team !== null && patch.owner?.team !== undefined && patch.owner.team !== actor.team) {
      throw new KeywardenError(
        'FORBIDDEN',
        patch.owner.team === null
          ? `this admin key is limited to team "${actor.team}"; its keys keep that team`
          : `this admin key cannot hand a key to team "${patch.owner.team}"`,
      );
    }
    // The policy of the team the key will belong to (read once, outside the retried transaction).
    const owner = patch.owner;
    const nextTeam =
      owner === null
        ? null
        : owner !== undefined && owner.team !== undefined
          ? owner.team
          : ((await this.teamOf(id)) ?? null);
    const policy = await this.policies.forTeam(nextTeam);
    // The key's identity after the patch must belong to the key's team after the patch.
    if (patch.identityId !== undefined || patch.owner !== undefined) {
      const identityId =
        patch.identityId !== undefined ? patch.identityId : (await getKeyRow(this.db, id))?.identity_id;
      await checkIdentityLink(this.db, identityId, nextTeam);
    }
    // Every role's permissions when the effective set may change (roles are few; read once).
    const roleMap =
      patch.roles !== undefined || patch.permissions !== undefined
        ? await this.rolesNamed(patch.roles, true)
        : new Map<string, string[]>();
    const roles = patch.roles;
    const record = await this.change(actor, id, 'key.update', (before, _at, trx) => {
      if (before.status === 'deleted')
        throw new KeywardenError('CONFLICT', `key ${id} is deleted and cannot be changed`);
      const owner =
        patch.owner === undefined
          ? before.owner
          : patch.owner === null
            ? { team: null, contact: null }
            : {
                team: patch.owner.team !== undefined ? patch.owner.team : before.owner.team,
                contact: patch.owner.contact !== undefined ? patch.owner.contact : before.owner.contact,
              };
      PolicyService.enforce(
        {
          name: patch.name ?? before.name,
          environment: before.environment,
          owner,
          permissions: effectivePermissions(
            patch.permissions ?? before.permissions,
            roles ?? before.roles,
            roleMap,
          ),
          expiresAt: patch.expiresAt !== undefined ? normalizeTime(patch.expiresAt) : before.expiresAt,
          createdAt: before.createdAt,
        },
        policy,
        // A change of roles changes the effective permissions.
        Object.keys(patch).map((f) => (f === 'roles' ? 'permissions' : f)),
      );
      const changes = patchToChanges(patch, owner);
      // New permissions (own or through roles) end a narrowing (docs/narrowing.md): its set was
      // checked against the old ones, and applying it later could grant what was just taken away.
      if (patch.permissions !== undefined || roles !== undefined) changes.narrowing = null;
      if (roles === undefined) return changes;
      return { changes, extra: () => setKeyRoles(trx, id, roles), auditExtra: {} };
    });
    // Only a new balance resets the limiter's (a reset re-reads storage, which lags by one flush).
    if (patch.credits !== undefined) this.ctx.limiter.resetCredits(id);
    return record;
  }

  /**
   * The permissions of the roles named (422 naming those that do not exist); with `all`, every
   * role's, so that roles a key already holds are known too.
   */
  private async rolesNamed(
    names: readonly string[] | undefined,
    all = false,
  ): Promise<Map<string, string[]>> {
    if (!all && (names === undefined || names.length === 0)) return new Map();
    if (names !== undefined && names.length > MAX_ROLES_PER_KEY) {
      throw new KeywardenError(
        'VALIDATION_FAILED',
        `a key holds at most ${MAX_ROLES_PER_KEY} roles; ${names.length} were given`,
        422,
      );
    }
    const found = await rolePermissions(this.db, all ? undefined : names);
    const missing = (names ?? []).filter((n) => !found.has(n));
    if (missing.length > 0) {
      throw new KeywardenError(
        'VALIDATION_FAILED',
        `unknown role${missing.length > 1 ? 's' : ''} ${missing.map((n) => `"${n}"`).join(', ')}: create ${missing.length > 1 ? 'them' : 'it'} first (POST /v1/roles)`,
        422,
      );
    }
    return found;
  }

  /** The owner team of a key (undefined when there is no such key; the change then answers 404). */
  private async teamOf(id: string): Promise<string | null | undefined> {
    const row = await getKeyRow(this.db, id);
    return row === undefined ? undefined : row.owner_team;
  }

  async setEnabled(
    actor: Actor,
    id: string,
    enabled: boolean,
    reason: string | undefined,
    action: 'key.enable' | 'key.disable' | 'key.leak' = enabled ? 'key.enable' : 'key.disable',
    /** With `key.leak`: the hash of the leaked (current) secret, marked in the same transaction. */
    leakedHash?: string,
  ): Promise<KeyRecord> {
    const record = await this.change(actor, id, action, (before, at, trx) => {
      if (before.status === 'deleted')
        throw new KeywardenError(
          'CONFLICT',
          `key ${id} is deleted; it cannot be ${enabled ? 'enabled' : 'disabled'}`,
        );
      const changes: KeyChanges = enabled
        ? { status: 'active', disabled_at: null, disabled_reason: null }
        : {
            status: 'disabled',
            disabled_at: at,
            // A second disable without a reason keeps the reason given first.
            disabled_reason: reason ?? (before.disabledAt !== null ? before.disabledReason : null),
          };
      return {
        changes,
        // Inside the transaction: a leak reported concurrently cannot slip between check and enable.
        extra: async () => {
          if (leakedHash !== undefined) await markSecretLeaked(trx, leakedHash, at);
          if (enabled && (await currentSecretLeaked(trx, id))) {
            throw new KeywardenError(
              'CONFLICT',
              `key ${id} cannot be enabled: its secret was reported leaked; regenerate it (POST /v1/keys/${id}/regenerate) to issue a new secret, then enable it`,
            );
          }
        },
        auditExtra: {},
      };
    });
    if (!enabled) {
      const data = {
        keyId: id,
        name: record.name,
        environment: record.environment,
        reason: record.disabledReason,
        team: record.owner.team,
        // Who disabled it (an admin key id): owner mail says so.
        by: actor.id,
      };
      if (action === 'key.leak') this.ctx.events.emit('key.leaked', { ...data, kind: 'key' });
      this.ctx.events.emit('key.disabled', data);
    }
    return record;
  }

  async remove(actor: Actor, id: string): Promise<KeyRecord> {
    return this.change(actor, id, 'key.delete', (before, at) => {
      if (before.status === 'deleted') throw new KeywardenError('CONFLICT', `key ${id} is already deleted`);
      return { status: 'deleted' satisfies StoredStatus, disabled_at: before.disabledAt ?? at };
    });
  }

  /**
   * New secret, same id and configuration. With a grace period the old secret keeps working
   * until then (verification reports `rotation`); with 0 it dies now.
   */
  async regenerate(
    actor: Actor,
    id: string,
    graceSeconds: number,
  ): Promise<{ key: string; record: KeyRecord }> {
    let key = '';
    const record = await this.change(actor, id, 'key.regenerate', (before, at, trx, now) => {
      if (before.status === 'deleted')
        throw new KeywardenError('CONFLICT', `key ${id} is deleted and cannot be regenerated`);
      key = generateKey(this.ctx.prefix, ENV_CODE[before.environment]);
      const { start, end } = maskParts(key);
      const graceEnd = new Date(now + graceSeconds * 1000).toISOString();
      const hash = this.ctx.hasher(key);
      return {
        // An imported key becomes a Keywarden key: its new secret is in this deployment's format.
        changes: { key_start: start, key_end: end, rotated_at: at, imported_at: null, imported_from: null },
        extra: async () => {
          await retireSecrets(trx, id, at, graceEnd);
          await addSecret(trx, id, hash, at);
        },
        auditExtra: { gracePeriodSeconds: graceSeconds },
      };
    });
    return { key, record };
  }

  /**
   * Read, decide, write with the version check, audit; retried on a concurrent change so no
   * update is lost. Invalidates the cache after the commit, before returning. Other services
   * that change a key (narrowing-service.ts) go through it too.
   */
  async change(
    actor: Actor,
    id: string,
    action: string,
    decide: (
      before: KeyRecord,
      at: string,
      trx: Kysely<Database>,
      nowMs: number,
    ) =>
      KeyChanges | { changes: KeyChanges; extra: () => Promise<void>; auditExtra: Record<string, unknown> },
  ): Promise<KeyRecord> {
    for (let attempt = 1; ; attempt++) {
      const now = this.ctx.clock.now();
      const at = new Date(now).toISOString();
      let result: KeyRecord | null = null;
      try {
        result = await this.db.transaction().execute(async (trx) => {
          const row = await getKeyRow(trx, id, this.ctx.storage.dialect === 'postgres');
          if (row === undefined || (actor.team !== null && row.owner_team !== actor.team)) throw notFound(id);
          const before = toRecord(row, at);
          const d = decide(before, at, trx, now);
          const plan = 'changes' in d ? d : { changes: d, extra: undefined, auditExtra: undefined };
          const ok = await updateKey(trx, id, before.version, { ...plan.changes, updated_at: at });
          if (!ok) return null;
          if (plan.extra !== undefined) await plan.extra();
          const afterRow = await getKeyRow(trx, id);
          if (afterRow === undefined) throw notFound(id);
          const after = toRecord(afterRow, at);
          await appendAudit(trx, {
            at,
            actor: actor.id,
            action,
            target: id,
            before,
            after: plan.auditExtra === undefined ? after : { ...after, ...plan.auditExtra },
            ip: actor.ip,
            team: after.owner.team,
          });
          return after;
        });
      } catch (err) {
        if (isUniqueViolation(err))
          throw new KeywardenError('CONFLICT', 'another live key already has that name');
        throw err;
      }
      if (result !== null) {
        this.ctx.cache.invalidateKey(id);
        await this.ctx.bus.publish(id).catch((err: unknown) => {
          this.ctx.log.warn(
            { err, keyId: id },
            'could not publish a cache invalidation; other nodes rely on their TTL',
          );
        });
        return result;
      }
      if (attempt >= MAX_ATTEMPTS) {
        throw new KeywardenError('CONFLICT', `key ${id} kept changing concurrently; try again`);
      }
    }
  }
}
