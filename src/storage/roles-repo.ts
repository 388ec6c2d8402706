import type { Kysely, Selectable } from 'kysely';
import type { Role } from '../core/roles.js';
import type { Database, KeysTable, RolesTable } from './schema.js';

type Db = Kysely<Database>;
type RoleRow = Selectable<RolesTable>;

export function toRole(row: RoleRow, keys: number): Role {
  return {
    name: row.name,
    description: row.description,
    permissions: JSON.parse(row.permissions) as string[],
    createdAt: row.created_at,
    createdBy: row.created_by,
    updatedAt: row.updated_at,
    version: row.version,
    keys,
  };
}

export async function insertRole(db: Db, row: RolesTable): Promise<void> {
  await db.insertInto('roles').values(row).execute();
}

/** `lock`: the row lock on PostgreSQL (concurrent role changes queue; SQLite serialises writers). */
export async function getRoleRow(db: Db, name: string, lock = false): Promise<RoleRow | undefined> {
  const q = db.selectFrom('roles').selectAll().where('name', '=', name);
  return (lock ? q.forUpdate() : q).executeTakeFirst();
}

export async function listRoleRows(db: Db): Promise<RoleRow[]> {
  return db.selectFrom('roles').selectAll().orderBy('name').execute();
}

/** Writes a role's changes if it still has `version`; false when it changed meanwhile or is gone. */
export async function updateRole(
  db: Db,
  name: string,
  version: number,
  changes: { description?: string | null; permissions?: string; updated_at: string },
): Promise<boolean> {
  const res = await db
    .updateTable('roles')
    .set({ ...changes, version: version + 1 })
    .where('name', '=', name)
    .where('version', '=', version)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Deletes a role and the holdings of deleted keys (live holders are refused before this). */
export async function deleteRole(db: Db, name: string): Promise<void> {
  await db.deleteFrom('key_roles').where('role', '=', name).execute();
  await db.deleteFrom('roles').where('name', '=', name).execute();
}

/** Ids of the keys not deleted that hold `role`. */
export async function liveHolders(db: Db, role: string): Promise<string[]> {
  const rows = await db
    .selectFrom('key_roles')
    .innerJoin('keys', 'keys.id', 'key_roles.key_id')
    .select('keys.id')
    .where('key_roles.role', '=', role)
    .where('keys.status', '<>', 'deleted')
    .orderBy('keys.id')
    .execute();
  return rows.map((r) => r.id);
}

/** The rows of the keys not deleted that hold `role` (one query, for the policy check of a role change). */
export async function liveHolderRows(db: Db, role: string): Promise<Selectable<KeysTable>[]> {
  return db
    .selectFrom('keys')
    .selectAll('keys')
    .innerJoin('key_roles', 'key_roles.key_id', 'keys.id')
    .where('key_roles.role', '=', role)
    .where('keys.status', '<>', 'deleted')
    .orderBy('keys.id')
    .execute();
}

/** How many keys not deleted hold each role. */
export async function holderCounts(db: Db): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('key_roles')
    .innerJoin('keys', 'keys.id', 'key_roles.key_id')
    .select(['key_roles.role', (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('keys.status', '<>', 'deleted')
    .groupBy('key_roles.role')
    .execute();
  return new Map(rows.map((r) => [r.role, Number(r.n)]));
}

/** name → permissions of the named roles that exist (all roles when `names` is undefined). */
export async function rolePermissions(db: Db, names?: readonly string[]): Promise<Map<string, string[]>> {
  if (names !== undefined && names.length === 0) return new Map();
  let q = db.selectFrom('roles').select(['name', 'permissions']);
  if (names !== undefined) q = q.where('name', 'in', names);
  const rows = await q.execute();
  return new Map(rows.map((r) => [r.name, JSON.parse(r.permissions) as string[]]));
}

/** Replaces the roles a key holds in the index (its `roles` column is written by the key update). */
export async function setKeyRoles(db: Db, keyId: string, roles: readonly string[]): Promise<void> {
  await db.deleteFrom('key_roles').where('key_id', '=', keyId).execute();
  if (roles.length > 0)
    await db
      .insertInto('key_roles')
      .values(roles.map((role) => ({ key_id: keyId, role })))
      .execute();
}
