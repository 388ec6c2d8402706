import { KeywardenError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import {
  normalizeEmail,
  ROLE_PERMISSIONS,
  type MemberRecord,
  type MemberRole,
  type RoleMapping,
} from '../core/members.js';
import { toPage } from '../core/page.js';
import { permissionsInclude, scopeCovers, type Actor } from '../core/model.js';
import { appendAudit } from '../storage/audit-repo.js';
import {
  countLiveOwners,
  endSessionsOf,
  findMemberByEmail,
  getMemberRow,
  insertMember,
  listMemberRows,
  markMemberRemoved,
  toMemberRecord,
  touchMemberSignIn,
  updateMember,
  type MemberRow,
} from '../storage/members-repo.js';
import { nowIso, type ServiceContext } from './context.js';

export const MEMBER_ID_PREFIX = 'mem_';

export interface MemberInput {
  email: string;
  name?: string | null | undefined;
  role: MemberRole;
  team?: string | null | undefined;
}

export interface MemberPatch {
  name?: string | null | undefined;
  role?: MemberRole | undefined;
  team?: string | null | undefined;
}

const notFound = (id: string): KeywardenError => new KeywardenError('NOT_FOUND', `no member with id ${id}`);

/**
 * Members: people who sign in to the console (by SSO), each with a role that carries admin
 * permissions, optionally limited to one team exactly as a team-scoped admin key is. The
 * hierarchy of admin keys applies: nobody grants a role whose permissions they do not all hold,
 * acts on a member whose role they could not grant, or removes or demotes the last owner.
 * A member's console sessions read the member on every request, so removing (which also ends
 * the sessions) or demoting one takes effect at once on every node.
 */
export class MembersService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Who may hand out `role` in `team`: a scope that covers the team and every permission of the role. */
  private checkGrant(actor: Actor, role: MemberRole, team: string | null): void {
    if (actor.team !== null && team !== actor.team) {
      throw new KeywardenError('FORBIDDEN', `this actor manages members of team "${actor.team}" only`);
    }
    if (!permissionsInclude(actor.permissions, ROLE_PERMISSIONS[role])) {
      throw new KeywardenError(
        'FORBIDDEN',
        `cannot grant the role "${role}" (${ROLE_PERMISSIONS[role].join(', ')}): this actor does not hold all of it`,
      );
    }
    if (role === 'owner' && team !== null) {
      throw new KeywardenError(
        'VALIDATION_FAILED',
        'the owner role is global: an owner cannot be limited to a team',
      );
    }
  }

  /** The member an actor acts on: not even visible outside its scope (404); needs its role's permissions (403). */
  private async target(actor: Actor, id: string, verb: string): Promise<MemberRow> {
    const row = await getMemberRow(this.ctx.storage.db, id);
    if (row === undefined || !scopeCovers(actor, row.team)) throw notFound(id);
    if (!permissionsInclude(actor.permissions, ROLE_PERMISSIONS[row.role as MemberRole])) {
      throw new KeywardenError(
        'FORBIDDEN',
        `cannot ${verb} member ${id}: the role "${row.role}" holds permissions this actor does not all hold`,
      );
    }
    return row;
  }

  async create(actor: Actor, input: MemberInput, source: 'manual' | 'sso' = 'manual'): Promise<MemberRecord> {
    const team = input.team === undefined ? actor.team : input.team;
    this.checkGrant(actor, input.role, team);
    return this.insert(actor.id, actor.ip, { ...input, team }, source);
  }

  private async insert(
    actorId: string | null,
    ip: string | null,
    input: MemberInput & { team: string | null },
    source: 'manual' | 'sso',
  ): Promise<MemberRecord> {
    const now = this.ctx.clock.now();
    const at = new Date(now).toISOString();
    const email = normalizeEmail(input.email);
    const row: MemberRow = {
      id: newId('mem', now),
      email,
      name: input.name ?? null,
      role: input.role,
      team: input.team,
      source,
      created_at: at,
      created_by: actorId,
      updated_at: at,
      last_sign_in_at: null,
      removed_at: null,
    };
    const record = toMemberRecord(row);
    await this.ctx.storage.db.transaction().execute(async (trx) => {
      if ((await findMemberByEmail(trx, email)) !== undefined) {
        throw new KeywardenError('CONFLICT', `a member with email ${email} already exists`);
      }
      await insertMember(trx, row);
      await appendAudit(trx, {
        at,
        actor: actorId,
        action: source === 'sso' ? 'member.sso_create' : 'member.create',
        target: row.id,
        before: null,
        after: record,
        ip,
        team: row.team,
      });
    });
    return record;
  }

  async list(
    actor: Actor,
    limit: number,
    cursor?: string,
  ): Promise<{ items: MemberRecord[]; nextCursor: string | null }> {
    const rows = await listMemberRows(this.ctx.storage.db, actor.team, limit + 1, cursor);
    return toPage(rows, limit, (r) => r.id, toMemberRecord);
  }

  async get(actor: Actor, id: string): Promise<MemberRecord> {
    const row = await getMemberRow(this.ctx.storage.db, id);
    if (row === undefined || !scopeCovers(actor, row.team)) throw notFound(id);
    return toMemberRecord(row);
  }

  async update(actor: Actor, id: string, patch: MemberPatch): Promise<MemberRecord> {
    const row = await this.target(actor, id, 'change');
    const role = patch.role ?? (row.role as MemberRole);
    const team = patch.team === undefined ? row.team : patch.team;
    this.checkGrant(actor, role, team);
    const at = nowIso(this.ctx);
    const before = toMemberRecord(row);
    const set = {
      role,
      team,
      ...(patch.name === undefined ? {} : { name: patch.name }),
    };
    await this.ctx.storage.db.transaction().execute(async (trx) => {
      await updateMember(trx, id, set, at);
      await appendAudit(trx, {
        at,
        actor: actor.id,
        action: 'member.update',
        target: id,
        before,
        after: toMemberRecord({ ...row, ...set, updated_at: at }),
        ip: actor.ip,
        team: team ?? row.team,
      });
      await this.keepAnOwner(trx, row, 'demote');
    });
    return this.get(actor, id);
  }

  async remove(actor: Actor, id: string): Promise<MemberRecord> {
    const row = await this.target(actor, id, 'remove');
    const at = nowIso(this.ctx);
    const before = toMemberRecord(row);
    await this.ctx.storage.db.transaction().execute(async (trx) => {
      await markMemberRemoved(trx, id, at);
      await endSessionsOf(trx, id, at);
      await appendAudit(trx, {
        at,
        actor: actor.id,
        action: 'member.remove',
        target: id,
        before,
        after: null,
        ip: actor.ip,
        team: row.team,
      });
      await this.keepAnOwner(trx, row, 'remove');
    });
    return before;
  }

  /**
   * Refuses a change that leaves no owner. Counted after the audit append, which holds the chain
   * head's lock until commit, so two concurrent demotions of the last two owners are serialised.
   */
  private async keepAnOwner(
    trx: ServiceContext['storage']['db'],
    row: MemberRow,
    verb: 'demote' | 'remove',
  ): Promise<void> {
    if (row.role !== 'owner' || row.team !== null) return;
    if ((await countLiveOwners(trx)) === 0) {
      throw new KeywardenError(
        'CONFLICT',
        `member ${row.id} is the last owner; make another member owner before you ${verb} this one`,
      );
    }
  }

  /** The actor of a member's console session: refused once the member is removed. */
  async actorById(id: string, ip: string | null): Promise<Actor> {
    const row = await getMemberRow(this.ctx.storage.db, id);
    if (row === undefined) {
      throw new KeywardenError('UNAUTHENTICATED', "the session's member was removed; sign in again");
    }
    return {
      id: row.id,
      permissions: new Set(ROLE_PERMISSIONS[row.role as MemberRole]),
      team: row.team,
      ip,
      expiresAt: null,
    };
  }

  /** The live member with this email, if any. */
  async byEmail(email: string): Promise<MemberRecord | undefined> {
    const row = await findMemberByEmail(this.ctx.storage.db, normalizeEmail(email));
    return row === undefined ? undefined : toMemberRecord(row);
  }

  /**
   * Just-in-time provisioning from the provider's groups (KEYWARDEN_OIDC_ROLE_MAP): creates the
   * member, or moves an existing one to the mapped role and team; audited as the provider's doing
   * (`member.sso_create`, `member.sso_update`; actor null, `after.via` "sso"). Members made by hand
   * are left as they are: the mapping only manages members it created.
   */
  async provision(
    email: string,
    name: string | null,
    mapping: RoleMapping,
    ip: string | null,
  ): Promise<MemberRecord> {
    const existing = await findMemberByEmail(this.ctx.storage.db, normalizeEmail(email));
    if (existing === undefined) {
      return this.insert(null, ip, { email, name, role: mapping.role, team: mapping.team }, 'sso');
    }
    if (existing.source !== 'sso' || (existing.role === mapping.role && existing.team === mapping.team)) {
      return toMemberRecord(existing);
    }
    const at = nowIso(this.ctx);
    const set = { role: mapping.role, team: mapping.team };
    await this.ctx.storage.db.transaction().execute(async (trx) => {
      await updateMember(trx, existing.id, set, at);
      await appendAudit(trx, {
        at,
        actor: null,
        action: 'member.sso_update',
        target: existing.id,
        before: toMemberRecord(existing),
        after: { ...toMemberRecord({ ...existing, ...set, updated_at: at }), group: mapping.group },
        ip,
        team: mapping.team,
      });
      await this.keepAnOwner(trx, existing, 'demote');
    });
    return toMemberRecord({ ...existing, ...set, updated_at: at });
  }

  /** Records a sign-in (lastSignInAt). */
  async signedIn(id: string): Promise<void> {
    await touchMemberSignIn(this.ctx.storage.db, id, nowIso(this.ctx));
  }
}
