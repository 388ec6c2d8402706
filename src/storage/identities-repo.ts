import { sql, type Kysely, type Selectable, type Updateable } from 'kysely';
import type { IdentityPatch, IdentityRecord } from '../core/identity.js';
import type { Credits, RateLimit } from '../core/model.js';
import type { RawSqlite, Storage } from './db.js';
import { refillBalance } from './credits-repo.js';
import type { Database, IdentitiesTable } from './schema.js';

/** Every query on identities (issue 22; docs/identities.md). */
type Db = Kysely<Database>;
export type IdentityRow = Selectable<IdentitiesTable>;
export type IdentityChanges = Omit<
  Updateable<IdentitiesTable>,
  'id' | 'created_at' | 'created_by' | 'version'
>;

export function toIdentity(row: IdentityRow): IdentityRecord {
  const refill = row.credits_refill === null ? null : (JSON.parse(row.credits_refill) as Credits['refill']);
  return {
    id: row.id,
    externalId: row.external_id,
    name: row.name,
    owner: { team: row.owner_team, contact: row.owner_contact },
    ratelimits: JSON.parse(row.ratelimits) as RateLimit[],
    credits: row.credits_remaining === null ? null : { remaining: row.credits_remaining, refill },
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    createdAt: row.created_at,
    createdBy: row.created_by,
    updatedAt: row.updated_at,
    version: row.version,
  };
}

export function identityToRow(r: IdentityRecord): IdentitiesTable {
  return {
    id: r.id,
    external_id: r.externalId,
    name: r.name,
    owner_team: r.owner.team,
    owner_contact: r.owner.contact,
    ratelimits: JSON.stringify(r.ratelimits),
    credits_remaining: r.credits?.remaining ?? null,
    credits_refill: r.credits?.refill ? JSON.stringify(r.credits.refill) : null,
    credits_refilled_at: null,
    metadata: JSON.stringify(r.metadata),
    created_at: r.createdAt,
    created_by: r.createdBy,
    updated_at: r.updatedAt,
    version: r.version,
  };
}

export async function insertIdentity(db: Db, row: IdentitiesTable): Promise<void> {
  await db.insertInto('identities').values(row).execute();
}

/** `lock`: PostgreSQL's row lock, so concurrent writers from several nodes queue (as for keys). */
export async function getIdentityRow(db: Db, id: string, lock = false): Promise<IdentityRow | undefined> {
  const q = db.selectFrom('identities').selectAll().where('id', '=', id);
  return (lock ? q.forUpdate() : q).executeTakeFirst();
}

type Get = { get(...params: unknown[]): unknown };
const lookups = new WeakMap<RawSqlite, Get>();

/**
 * `getIdentityRow` for the verifier's cache misses of keys with an identity: on SQLite a
 * statement prepared once, like the key lookup (docs/hot-path.md#cold-path-lookups-prepared-once).
 */
export function findIdentityIn(storage: Storage, id: string): Promise<IdentityRow | undefined> {
  const raw = storage.sqlite;
  if (raw === undefined || !raw.open) return getIdentityRow(storage.db, id);
  try {
    let st = lookups.get(raw);
    if (st === undefined) {
      st = raw.prepare('select * from identities where id = ?');
      lookups.set(raw, st);
    }
    return Promise.resolve(st.get(id) as IdentityRow | undefined);
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/** Writes `changes` only if the row still has `version` (optimistic concurrency, as for keys). */
export async function updateIdentity(
  db: Db,
  id: string,
  version: number,
  changes: IdentityChanges,
): Promise<boolean> {
  const res = await db
    .updateTable('identities')
    .set({ ...changes, version: version + 1 })
    .where('id', '=', id)
    .where('version', '=', version)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Deletes an identity and unlinks its keys (they keep their own limits); returns how many keys were linked. */
/** Whether any key links to the identity. */
export async function hasLinkedKeys(db: Db, id: string): Promise<boolean> {
  const row = await db
    .selectFrom('keys')
    .select('id')
    .where('identity_id', '=', id)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export async function deleteIdentity(db: Db, id: string, at: string): Promise<number> {
  const res = await db
    .updateTable('keys')
    .set((eb) => ({ identity_id: null, updated_at: at, version: eb('version', '+', 1) }))
    .where('identity_id', '=', id)
    .executeTakeFirst();
  await db.deleteFrom('identities').where('id', '=', id).execute();
  return Number(res.numUpdatedRows);
}

export interface IdentityFilter {
  team?: string | undefined;
  externalId?: string | undefined;
  /** Case-insensitive substring of the external id or the name. */
  q?: string | undefined;
}

/** Newest first, keyset-paginated on the time-ordered id (as the key list). */
export async function listIdentityRows(
  db: Db,
  filter: IdentityFilter,
  limit: number,
  cursor: string | undefined,
): Promise<IdentityRow[]> {
  let q = db.selectFrom('identities').selectAll();
  if (filter.team !== undefined) q = q.where('owner_team', '=', filter.team);
  if (filter.externalId !== undefined) q = q.where('external_id', '=', filter.externalId);
  if (filter.q !== undefined && filter.q !== '') {
    const like = `%${filter.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where((eb) =>
      eb.or([
        sql<boolean>`lower(external_id) like ${like} escape '\\'`,
        sql<boolean>`lower(name) like ${like} escape '\\'`,
      ]),
    );
  }
  if (cursor !== undefined) q = q.where('id', '<', cursor);
  return q.orderBy('id', 'desc').limit(limit).execute();
}

/** The columns a patch writes; `owner` is the owner after the patch (merged by the caller). */
export function identityPatchToChanges(
  patch: IdentityPatch,
  owner: IdentityRecord['owner'],
): IdentityChanges {
  const c: IdentityChanges = {};
  if (patch.externalId !== undefined) c.external_id = patch.externalId;
  if (patch.name !== undefined) c.name = patch.name;
  if (patch.owner !== undefined) {
    c.owner_team = owner.team;
    c.owner_contact = owner.contact;
  }
  if (patch.ratelimits !== undefined) c.ratelimits = JSON.stringify(patch.ratelimits);
  if (patch.credits !== undefined) {
    c.credits_remaining = patch.credits?.remaining ?? null;
    c.credits_refill = patch.credits?.refill ? JSON.stringify(patch.credits.refill) : null;
  }
  if (patch.metadata !== undefined) c.metadata = JSON.stringify(patch.metadata);
  return c;
}

/** Verifications per day and outcome, summed over the keys linked to the identity now. */
export async function identityUsage(
  db: Db,
  id: string,
  sinceDay: string,
): Promise<{
  days: { day: string; counts: Record<string, number> }[];
  totals: Record<string, number>;
  keys: number;
}> {
  const rows = await db
    .selectFrom('key_usage_daily')
    .select(['day', 'code', (eb) => eb.fn.sum<string | number>('n').as('n')])
    .where('key_id', 'in', (eb) => eb.selectFrom('keys').select('id').where('identity_id', '=', id))
    .where('day', '>=', sinceDay)
    .groupBy(['day', 'code'])
    .orderBy('day')
    .orderBy('code')
    .execute();
  const days = new Map<string, Record<string, number>>();
  const totals: Record<string, number> = {};
  for (const r of rows) {
    const n = Number(r.n);
    const d = days.get(r.day) ?? {};
    d[r.code] = n;
    days.set(r.day, d);
    totals[r.code] = (totals[r.code] ?? 0) + n;
  }
  const count = await db
    .selectFrom('keys')
    .select((eb) => eb.fn.countAll<string | number>().as('n'))
    .where('identity_id', '=', id)
    .executeTakeFirst();
  return { days: [...days].map(([day, counts]) => ({ day, counts })), totals, keys: Number(count?.n ?? 0) };
}

/** Identities with a refill schedule (JSON), with when they were last refilled. */
export async function refillableIdentities(
  db: Db,
): Promise<
  { id: string; credits_refill: string | null; credits_refilled_at: string | null; created_at: string }[]
> {
  return db
    .selectFrom('identities')
    .select(['id', 'credits_refill', 'credits_refilled_at', 'created_at'])
    .where('credits_refill', 'is not', null)
    .execute();
}

/** Sets an identity's balance to `amount` unless another node already refilled it since `boundary`. */
export function refillIdentity(
  db: Db,
  id: string,
  amount: number,
  at: string,
  boundary: string,
): Promise<boolean> {
  return refillBalance(db, 'identities', id, amount, at, boundary);
}
