import type { Kysely } from 'kysely';
import { KeywardenError } from '../core/errors.js';
import type { Actor } from '../core/model.js';
import { violations } from '../core/policy.js';
import {
  checkRolePermissions,
  effectivePermissions,
  isRoleName,
  ROLE_NAME_PATTERN,
  type Role,
} from '../core/roles.js';
import { appendAudit } from '../storage/audit-repo.js';
import { isUniqueViolation } from '../storage/db.js';
import { toRecord } from '../storage/keys-repo.js';
import {
  deleteRole,
  getRoleRow,
  holderCounts,
  insertRole,
  listRoleRows,
  liveHolderRows,
  liveHolders,
  rolePermissions,
  toRole,
  updateRole,
} from '../storage/roles-repo.js';
import type { Database } from '../storage/schema.js';
import { nowIso, type ServiceContext } from './context.js';
import type { PolicyService } from './policy-service.js';

export interface RoleInput {
  name: string;
  permissions: string[];
  description?: string | null;
}
export interface RolePatch {
  permissions?: string[];
  description?: string | null;
}

const notFound = (name: string): KeywardenError => new KeywardenError('NOT_FOUND', `no role named "${name}"`);
/** A refusal names at most this many keys (and says how many there are). */
const NAMED_KEYS = 10;

/**
 * Roles are deployment-wide (docs/roles.md): created, changed and deleted by global admin keys
 * (the routes refuse team-scoped ones), read and assigned by any admin with keys:read/keys:write.
 * A change of a role's permissions invalidates every holding key's cache entry on every node
 * (the key-change invalidation, one message per key), so verifications answer from the new set.
 */
export class RolesService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly policies: PolicyService,
  ) {}

  private get db(): Kysely<Database> {
    return this.ctx.storage.db;
  }

  async create(actor: Actor, input: RoleInput): Promise<Role> {
    if (!isRoleName(input.name)) {
      throw new KeywardenError(
        'VALIDATION_FAILED',
        `role name "${input.name}" must match ${ROLE_NAME_PATTERN} (lower case, digits, _ . -)`,
      );
    }
    checkRolePermissions(input.permissions);
    const at = nowIso(this.ctx);
    const row = {
      name: input.name,
      description: input.description ?? null,
      permissions: JSON.stringify(input.permissions),
      created_at: at,
      created_by: actor.id,
      updated_at: at,
      version: 1,
    };
    const role = toRole(row, 0);
    try {
      await this.db.transaction().execute(async (trx) => {
        await insertRole(trx, row);
        await appendAudit(trx, {
          at,
          actor: actor.id,
          action: 'role.create',
          target: `role:${role.name}`,
          before: null,
          after: role,
          ip: actor.ip,
        });
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw new KeywardenError('CONFLICT', `a role named "${input.name}" already exists`);
      throw err;
    }
    return role;
  }

  async list(): Promise<{ items: Role[] }> {
    const [rows, counts] = await Promise.all([listRoleRows(this.db), holderCounts(this.db)]);
    return { items: rows.map((r) => toRole(r, counts.get(r.name) ?? 0)) };
  }

  async get(name: string): Promise<Role> {
    const row = await getRoleRow(this.db, name);
    if (row === undefined) throw notFound(name);
    return toRole(row, (await liveHolders(this.db, name)).length);
  }

  /**
   * Changes a role. A new permission set is checked against the policy of every key holding it
   * (its effective set, with its team's policy): a change that would make any of them break a
   * rule (a wildcard on a production key, say) is refused with 422 naming the keys.
   */
  async update(actor: Actor, name: string, patch: RolePatch): Promise<Role> {
    if (patch.permissions === undefined && patch.description === undefined)
      throw new KeywardenError('VALIDATION_FAILED', 'the patch changes nothing');
    if (patch.permissions !== undefined) checkRolePermissions(patch.permissions);
    const at = nowIso(this.ctx);
    const policyFor = patch.permissions === undefined ? undefined : await this.policies.resolver();
    const { before, after, holders } = await this.db.transaction().execute(async (trx) => {
      const row = await getRoleRow(trx, name, this.ctx.storage.dialect === 'postgres');
      if (row === undefined) throw notFound(name);
      const holders = await liveHolders(trx, name);
      const before = toRole(row, holders.length);
      if (patch.permissions !== undefined && policyFor !== undefined) {
        const roles = await rolePermissions(trx);
        roles.set(name, patch.permissions);
        const broken: string[] = [];
        for (const keyRow of await liveHolderRows(trx, name)) {
          const k = toRecord(keyRow, at);
          const v = violations(
            { ...k, permissions: effectivePermissions(k.permissions, k.roles, roles) },
            policyFor(k.owner.team),
          ).filter((x) => x.rule === 'allowWildcards');
          if (v[0] !== undefined) broken.push(`${k.id} (${k.name}: ${v[0].detail})`);
        }
        if (broken.length > 0) {
          throw new KeywardenError(
            'POLICY_VIOLATION',
            `policy rule allowWildcards: this change would break the policy of ${broken.length} key${broken.length > 1 ? 's' : ''} holding role "${name}": ${broken.slice(0, NAMED_KEYS).join('; ')}${broken.length > NAMED_KEYS ? `; and ${broken.length - NAMED_KEYS} more` : ''}`,
          );
        }
      }
      const ok = await updateRole(trx, name, row.version, {
        ...(patch.permissions === undefined ? {} : { permissions: JSON.stringify(patch.permissions) }),
        ...(patch.description === undefined ? {} : { description: patch.description }),
        updated_at: at,
      });
      if (!ok) throw new KeywardenError('CONFLICT', `role "${name}" changed concurrently; try again`);
      const afterRow = await getRoleRow(trx, name);
      if (afterRow === undefined) throw notFound(name);
      const after = toRole(afterRow, holders.length);
      await appendAudit(trx, {
        at,
        actor: actor.id,
        action: 'role.update',
        target: `role:${name}`,
        before,
        after: { ...after, keyIds: holders.slice(0, 1000) },
        ip: actor.ip,
      });
      return { before, after, holders };
    });
    if (
      patch.permissions !== undefined &&
      JSON.stringify(before.permissions) !== JSON.stringify(after.permissions)
    )
      await this.invalidate(holders);
    return after;
  }

  /** Deletes a role no key holds (409 saying how many keys still do). */
  async remove(actor: Actor, name: string): Promise<Role> {
    const at = nowIso(this.ctx);
    return this.db.transaction().execute(async (trx) => {
      const row = await getRoleRow(trx, name, this.ctx.storage.dialect === 'postgres');
      if (row === undefined) throw notFound(name);
      const holders = await liveHolders(trx, name);
      if (holders.length > 0) {
        throw new KeywardenError(
          'CONFLICT',
          `role "${name}" is still held by ${holders.length} key${holders.length > 1 ? 's' : ''}; take it from them first (PATCH /v1/keys/{id} with roles)`,
        );
      }
      const before = toRole(row, 0);
      await deleteRole(trx, name);
      await appendAudit(trx, {
        at,
        actor: actor.id,
        action: 'role.delete',
        target: `role:${name}`,
        before,
        after: null,
        ip: actor.ip,
      });
      return before;
    });
  }

  /** Drops the holders' cache entries here, then tells the other nodes (the key-change message). */
  private async invalidate(keyIds: readonly string[]): Promise<void> {
    for (const id of keyIds) this.ctx.cache.invalidateKey(id);
    for (let i = 0; i < keyIds.length; i += 100) {
      await Promise.all(
        keyIds.slice(i, i + 100).map((id) =>
          this.ctx.bus.publish(id).catch((err: unknown) => {
            this.ctx.log.warn(
              { err, keyId: id },
              'could not publish a cache invalidation; other nodes rely on their TTL',
            );
          }),
        ),
      );
    }
  }
}
