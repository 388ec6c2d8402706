import type { Kysely, Selectable } from 'kysely';
import {
  effectiveStatus,
  type AdminKeyRecord,
  type AdminPermission,
  type StoredStatus,
} from '../core/model.js';
import type { AdminKeysTable, Database } from './schema.js';

type Db = Kysely<Database>;
export type AdminKeyRow = Selectable<AdminKeysTable>;

export function toAdminRecord(row: AdminKeyRow, nowIso: string): AdminKeyRecord {
  return {
    id: row.id,
    name: row.name,
    permissions: JSON.parse(row.permissions) as AdminPermission[],
    team: row.team,
    status: effectiveStatus(row.status as StoredStatus, row.expires_at, nowIso),
    start: row.key_start,
    end: row.key_end,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    createdBy: row.created_by,
    lastUsedAt: row.last_used_at,
    disabledAt: row.disabled_at,
  };
}

export async function insertAdminKey(db: Db, row: AdminKeysTable): Promise<void> {
  await db.insertInto('admin_keys').values(row).execute();
}

export async function findAdminByHash(db: Db, hash: string): Promise<AdminKeyRow | undefined> {
  return db.selectFrom('admin_keys').selectAll().where('hash', '=', hash).executeTakeFirst();
}

export async function getAdminRow(db: Db, id: string): Promise<AdminKeyRow | undefined> {
  return db.selectFrom('admin_keys').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listAdminRows(
  db: Db,
  team: string | null,
  limit: number,
  cursor?: string,
): Promise<AdminKeyRow[]> {
  let q = db.selectFrom('admin_keys').selectAll();
  if (team !== null) q = q.where('team', '=', team);
  if (cursor !== undefined) q = q.where('id', '<', cursor);
  return q.orderBy('id', 'desc').limit(limit).execute();
}

export async function setAdminStatus(
  db: Db,
  id: string,
  status: StoredStatus,
  nowIso: string,
): Promise<void> {
  await db
    .updateTable('admin_keys')
    .set({ status, updated_at: nowIso, disabled_at: status === 'active' ? null : nowIso })
    .where('id', '=', id)
    .execute();
}

/** A new secret for an admin key (regenerate): the old one stops working, a leak mark is cleared. */
export async function setAdminSecret(
  db: Db,
  id: string,
  secret: { hash: string; start: string; end: string },
  nowIso: string,
): Promise<void> {
  await db
    .updateTable('admin_keys')
    .set({
      hash: secret.hash,
      key_start: secret.start,
      key_end: secret.end,
      leaked_at: null,
      updated_at: nowIso,
    })
    .where('id', '=', id)
    .execute();
}

/** Marks an admin key's current secret as leaked (enable is refused until it is regenerated). */
export async function setAdminLeaked(db: Db, id: string, nowIso: string): Promise<void> {
  await db.updateTable('admin_keys').set({ leaked_at: nowIso }).where('id', '=', id).execute();
}

/** Records use; never moves lastUsedAt backwards (two nodes may write out of order). */
export async function touchAdminLastUsed(db: Db, id: string, at: string): Promise<void> {
  await db
    .updateTable('admin_keys')
    .set({ last_used_at: at })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
    .execute();
}

/** Active, unexpired, global admin keys holding `*`: the keys that can always recover the deployment. */
export async function countLiveGlobalRoots(db: Db, nowIso: string): Promise<number> {
  const rows = await db
    .selectFrom('admin_keys')
    .select(['permissions', 'expires_at'])
    .where('status', '=', 'active')
    .where('team', 'is', null)
    .execute();
  return rows.filter(
    (r) =>
      (r.expires_at === null || r.expires_at > nowIso) &&
      (JSON.parse(r.permissions) as AdminPermission[]).includes('*'),
  ).length;
}
