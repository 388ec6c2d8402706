import type { Kysely, Selectable } from 'kysely';
import { ROLE_PERMISSIONS, type MemberRecord, type MemberRole } from '../core/members.js';
import type { Database, MembersTable, OidcLoginsTable } from './schema.js';

type Db = Kysely<Database>;
export type MemberRow = Selectable<MembersTable>;

export function toMemberRecord(row: MemberRow): MemberRecord {
  const role = row.role as MemberRole;
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role,
    team: row.team,
    permissions: [...ROLE_PERMISSIONS[role]],
    source: row.source === 'sso' ? 'sso' : 'manual',
    createdAt: row.created_at,
    createdBy: row.created_by,
    updatedAt: row.updated_at,
    lastSignInAt: row.last_sign_in_at,
  };
}

export async function insertMember(db: Db, row: MembersTable): Promise<void> {
  await db.insertInto('members').values(row).execute();
}

/** A live (not removed) member by id. */
export async function getMemberRow(db: Db, id: string): Promise<MemberRow | undefined> {
  return db
    .selectFrom('members')
    .selectAll()
    .where('id', '=', id)
    .where('removed_at', 'is', null)
    .executeTakeFirst();
}

/** A live member by (lower-case) email. */
export async function findMemberByEmail(db: Db, email: string): Promise<MemberRow | undefined> {
  return db
    .selectFrom('members')
    .selectAll()
    .where('email', '=', email)
    .where('removed_at', 'is', null)
    .executeTakeFirst();
}

/** Live members, newest first; `team` non-null limits them to that team's. */
export async function listMemberRows(
  db: Db,
  team: string | null,
  limit: number,
  cursor?: string,
): Promise<MemberRow[]> {
  let q = db.selectFrom('members').selectAll().where('removed_at', 'is', null);
  if (team !== null) q = q.where('team', '=', team);
  if (cursor !== undefined) q = q.where('id', '<', cursor);
  return q.orderBy('id', 'desc').limit(limit).execute();
}

export async function updateMember(
  db: Db,
  id: string,
  set: { role?: string; team?: string | null; name?: string | null; source?: string },
  at: string,
): Promise<void> {
  await db
    .updateTable('members')
    .set({ ...set, updated_at: at })
    .where('id', '=', id)
    .execute();
}

export async function markMemberRemoved(db: Db, id: string, at: string): Promise<void> {
  await db.updateTable('members').set({ removed_at: at, updated_at: at }).where('id', '=', id).execute();
}

export async function touchMemberSignIn(db: Db, id: string, at: string): Promise<void> {
  await db.updateTable('members').set({ last_sign_in_at: at }).where('id', '=', id).execute();
}

/** Live global owners: the members who can always administer the deployment. */
export async function countLiveOwners(db: Db): Promise<number> {
  const r = await db
    .selectFrom('members')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('role', '=', 'owner')
    .where('team', 'is', null)
    .where('removed_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Ends every open console session of a member (removed) at `at`. */
export async function endSessionsOf(db: Db, principalId: string, at: string): Promise<void> {
  await db
    .updateTable('console_sessions')
    .set({ ended_at: at })
    .where('admin_key_id', '=', principalId)
    .where('ended_at', 'is', null)
    .execute();
}

export async function insertOidcLogin(db: Db, row: OidcLoginsTable): Promise<void> {
  await db.insertInto('oidc_logins').values(row).execute();
}

export async function findOidcLogin(
  db: Db,
  stateHash: string,
): Promise<Selectable<OidcLoginsTable> | undefined> {
  return db.selectFrom('oidc_logins').selectAll().where('state_hash', '=', stateHash).executeTakeFirst();
}

/** Marks a login used; false when another request used it first (a replay). */
export async function useOidcLogin(db: Db, stateHash: string, at: string): Promise<boolean> {
  const r = await db
    .updateTable('oidc_logins')
    .set({ used_at: at })
    .where('state_hash', '=', stateHash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Drops logins older than `before` (a started login is good for minutes only). */
export async function pruneOidcLogins(db: Db, before: string): Promise<void> {
  await db.deleteFrom('oidc_logins').where('created_at', '<', before).execute();
}
