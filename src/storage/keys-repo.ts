import { sql, type Kysely, type Selectable, type Updateable } from 'kysely';
import { normalizeTime, type KeyPatch } from '../core/key-input.js';
import type { Environment } from '../core/keys.js';
import {
  effectiveStatus,
  type Credits,
  type KeyRecord,
  type KeyStatus,
  type SecretInfo,
  type StoredStatus,
} from '../core/model.js';
import type { RawSqlite, Storage } from './db.js';
import { refillBalance } from './credits-repo.js';
import type { Database, KeySecretsTable, KeysTable } from './schema.js';

type Db = Kysely<Database>;
type KeyRow = Selectable<KeysTable>;

export function toRecord(row: KeyRow, nowIso: string): KeyRecord {
  const refill = row.credits_refill === null ? null : (JSON.parse(row.credits_refill) as Credits['refill']);
  return {
    id: row.id,
    name: row.name,
    environment: row.environment as Environment,
    system: row.system,
    purpose: row.purpose,
    owner: { team: row.owner_team, contact: row.owner_contact },
    customerId: row.customer_id,
    identityId: row.identity_id,
    permissions: JSON.parse(row.permissions) as string[],
    ratelimits: JSON.parse(row.ratelimits) as KeyRecord['ratelimits'],
    credits: row.credits_remaining === null ? null : { remaining: row.credits_remaining, refill },
    ipAllowlist: JSON.parse(row.ip_allowlist) as string[],
    expiresAt: row.expires_at,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    status: effectiveStatus(row.status as StoredStatus, row.expires_at, nowIso),
    start: row.key_start,
    end: row.key_end,
    createdAt: row.created_at,
    createdBy: row.created_by,
    updatedAt: row.updated_at,
    lastUsedAt: row.last_used_at,
    disabledAt: row.disabled_at,
    disabledReason: row.disabled_reason,
    rotatedAt: row.rotated_at,
    version: row.version,
    roles: JSON.parse(row.roles) as string[],
    imported:
      row.imported_at === null
        ? null
        : { at: row.imported_at, from: row.imported_from === 'hash' ? 'hash' : 'plaintext' },
  };
}

/** The columns an admin change may write (everything but identity and creation facts). */
export type KeyChanges = Omit<Updateable<KeysTable>, 'id' | 'created_at' | 'created_by' | 'version'>;

export function recordToRow(r: KeyRecord, storedStatus: StoredStatus): KeysTable {
  return {
    id: r.id,
    name: r.name,
    environment: r.environment,
    system: r.system,
    purpose: r.purpose,
    owner_team: r.owner.team,
    owner_contact: r.owner.contact,
    customer_id: r.customerId,
    permissions: JSON.stringify(r.permissions),
    ratelimits: JSON.stringify(r.ratelimits),
    credits_remaining: r.credits?.remaining ?? null,
    credits_refill: r.credits?.refill ? JSON.stringify(r.credits.refill) : null,
    credits_refilled_at: null,
    ip_allowlist: JSON.stringify(r.ipAllowlist),
    expires_at: r.expiresAt,
    metadata: JSON.stringify(r.metadata),
    status: storedStatus,
    key_start: r.start,
    key_end: r.end,
    created_at: r.createdAt,
    created_by: r.createdBy,
    updated_at: r.updatedAt,
    last_used_at: r.lastUsedAt,
    disabled_at: r.disabledAt,
    disabled_reason: r.disabledReason,
    rotated_at: r.rotatedAt,
    version: r.version,
    identity_id: r.identityId,
    narrowing: null,
    roles: JSON.stringify(r.roles),
    imported_at: r.imported?.at ?? null,
    imported_from: r.imported?.from ?? null,
  };
}

export async function insertKey(db: Db, row: KeysTable, secretHash: string): Promise<void> {
  await db.insertInto('keys').values(row).execute();
  await db
    .insertInto('key_secrets')
    .values({
      hash: secretHash,
      key_id: row.id,
      created_at: row.created_at,
      expires_at: null,
      replaced_at: null,
      leaked_at: null,
    })
    .execute();
}

/**
 * `lock` takes the row lock (PostgreSQL `FOR UPDATE`) so concurrent writers from several nodes
 * queue instead of failing their version check. SQLite needs none: its writers are serialised.
 */
export async function getKeyRow(db: Db, id: string, lock = false): Promise<KeyRow | undefined> {
  const q = db.selectFrom('keys').selectAll().where('id', '=', id);
  return (lock ? q.forUpdate() : q).executeTakeFirst();
}

type SecretRow = Selectable<KeySecretsTable>;
type Hit = { row: KeyRow; secret: SecretInfo } | null;

const hitOf = (s: SecretRow | undefined, row: KeyRow | undefined): Hit =>
  s === undefined || row === undefined
    ? null
    : {
        row,
        secret: {
          keyId: s.key_id,
          createdAt: s.created_at,
          expiresAt: s.expires_at,
          replacedAt: s.replaced_at,
        },
      };

/** The key a secret hash belongs to, with that secret's own validity (rotation grace windows). */
export async function findByHash(db: Db, hash: string): Promise<Hit> {
  const s = await db.selectFrom('key_secrets').selectAll().where('hash', '=', hash).executeTakeFirst();
  if (s === undefined) return null;
  return hitOf(s, await getKeyRow(db, s.key_id));
}

type Get = { get(...params: unknown[]): unknown };
const lookups = new WeakMap<RawSqlite, { secret: Get; key: Get }>();

/**
 * `findByHash` for the verifier's cache misses. On SQLite the same two selects run as statements
 * prepared once: Kysely's driver prepares every query it runs, which cost as much as the lookup
 * (docs/hot-path.md#cold-path-lookups-prepared-once).
 */
export function findByHashIn(storage: Storage, hash: string): Promise<Hit> {
  const raw = storage.sqlite;
  if (raw === undefined || !raw.open) return findByHash(storage.db, hash);
  try {
    let st = lookups.get(raw);
    if (st === undefined) {
      st = {
        secret: raw.prepare('select * from key_secrets where hash = ?'),
        key: raw.prepare('select * from keys where id = ?'),
      };
      lookups.set(raw, st);
    }
    const s = st.secret.get(hash) as SecretRow | undefined;
    return Promise.resolve(s === undefined ? null : hitOf(s, st.key.get(s.key_id) as KeyRow | undefined));
  } catch (err) {
    // A failure rejects, as Kysely's would, instead of throwing out of the caller's chain.
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/**
 * Writes `changes` only if the row still has `version` (optimistic concurrency): two nodes
 * changing one key at once cannot both win; the loser gets `false` and reports a conflict.
 */
export async function updateKey(db: Db, id: string, version: number, changes: KeyChanges): Promise<boolean> {
  const res = await db
    .updateTable('keys')
    .set({ ...changes, version: version + 1 })
    .where('id', '=', id)
    .where('version', '=', version)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Ends every live secret of a key at `expiresAt` (now, or the end of a grace window). */
export async function retireSecrets(
  db: Db,
  keyId: string,
  replacedAt: string,
  expiresAt: string,
): Promise<void> {
  await db
    .updateTable('key_secrets')
    .set({ replaced_at: replacedAt, expires_at: expiresAt })
    .where('key_id', '=', keyId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', expiresAt)]))
    .execute();
}

/** Ends one secret's validity now (a leaked secret in its rotation grace window). */
export async function expireSecret(db: Db, hash: string, at: string): Promise<void> {
  await db.updateTable('key_secrets').set({ expires_at: at }).where('hash', '=', hash).execute();
}

/**
 * The rotation grace window still open at `now`: the previous secrets that keep working after a
 * regenerate, with when they were replaced and when the last of them stops working.
 */
export async function graceWindow(
  db: Db,
  keyId: string,
  now: string,
): Promise<{ replacedAt: string; previousExpiresAt: string } | null> {
  const row = await db
    .selectFrom('key_secrets')
    .select((eb) => [eb.fn.max('replaced_at').as('replacedAt'), eb.fn.max('expires_at').as('expiresAt')])
    .where('key_id', '=', keyId)
    .where('expires_at', 'is not', null)
    .where('expires_at', '>', now)
    .where('leaked_at', 'is', null)
    .executeTakeFirst();
  if (row?.expiresAt === null || row?.expiresAt === undefined) return null;
  return { replacedAt: row.replacedAt ?? row.expiresAt, previousExpiresAt: row.expiresAt };
}

/** Ends the grace window now: every previous secret still working stops at `at`; returns how many. */
export async function endGraceWindow(db: Db, keyId: string, at: string): Promise<number> {
  const res = await db
    .updateTable('key_secrets')
    .set({ expires_at: at })
    .where('key_id', '=', keyId)
    .where('expires_at', 'is not', null)
    .where('expires_at', '>', at)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** Marks one secret as reported leaked (its key then stays disabled until regenerated). */
export async function markSecretLeaked(db: Db, hash: string, at: string): Promise<void> {
  await db
    .updateTable('key_secrets')
    .set({ leaked_at: at })
    .where('hash', '=', hash)
    .where('leaked_at', 'is', null)
    .execute();
}

/** True when the key's current secret (the one without an end) was reported leaked. */
export async function currentSecretLeaked(db: Db, keyId: string): Promise<boolean> {
  const row = await db
    .selectFrom('key_secrets')
    .select('hash')
    .where('key_id', '=', keyId)
    .where('expires_at', 'is', null)
    .where('leaked_at', 'is not', null)
    .executeTakeFirst();
  return row !== undefined;
}

export async function addSecret(db: Db, keyId: string, hash: string, createdAt: string): Promise<void> {
  await db
    .insertInto('key_secrets')
    .values({
      hash,
      key_id: keyId,
      created_at: createdAt,
      expires_at: null,
      replaced_at: null,
      leaked_at: null,
    })
    .execute();
}

export interface KeyFilter {
  environment?: Environment | undefined;
  status?: KeyStatus | undefined;
  team?: string | undefined;
  system?: string | undefined;
  customerId?: string | undefined;
  identityId?: string | undefined;
  /** Case-insensitive substring of the name. */
  q?: string | undefined;
}

/** Newest first, keyset-paginated on the time-ordered id, so page N costs the same as page 1. */
export async function listKeyRows(
  db: Db,
  filter: KeyFilter,
  limit: number,
  cursor: string | undefined,
  nowIso: string,
): Promise<KeyRow[]> {
  let q = db.selectFrom('keys').selectAll();
  if (filter.environment !== undefined) q = q.where('environment', '=', filter.environment);
  if (filter.team !== undefined) q = q.where('owner_team', '=', filter.team);
  if (filter.system !== undefined) q = q.where('system', '=', filter.system);
  if (filter.customerId !== undefined) q = q.where('customer_id', '=', filter.customerId);
  if (filter.identityId !== undefined) q = q.where('identity_id', '=', filter.identityId);
  if (filter.q !== undefined && filter.q !== '') {
    const escaped = filter.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);
    q = q.where(sql<boolean>`lower(name) like ${`%${escaped}%`} escape '\\'`);
  }
  switch (filter.status) {
    case undefined:
      break;
    case 'active':
      q = q
        .where('status', '=', 'active')
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowIso)]));
      break;
    case 'expired':
      q = q.where('status', '=', 'active').where('expires_at', '<=', nowIso);
      break;
    default:
      q = q.where('status', '=', filter.status);
  }
  if (cursor !== undefined) q = q.where('id', '<', cursor);
  return q.orderBy('id', 'desc').limit(limit).execute();
}

/**
 * The columns an admin's patch writes. `owner` is the key's owner after the patch (the patch's
 * fields merged over the stored ones by the caller, once); it is written only when the patch
 * names `owner`.
 */
export function patchToChanges(patch: KeyPatch, owner: KeyRecord['owner']): KeyChanges {
  const c: KeyChanges = {};
  if (patch.name !== undefined) c.name = patch.name;
  if (patch.system !== undefined) c.system = patch.system;
  if (patch.purpose !== undefined) c.purpose = patch.purpose;
  if (patch.owner !== undefined) {
    c.owner_team = owner.team;
    c.owner_contact = owner.contact;
  }
  if (patch.customerId !== undefined) c.customer_id = patch.customerId;
  if (patch.identityId !== undefined) c.identity_id = patch.identityId;
  if (patch.permissions !== undefined) c.permissions = JSON.stringify(patch.permissions);
  if (patch.ratelimits !== undefined) c.ratelimits = JSON.stringify(patch.ratelimits);
  if (patch.credits !== undefined) {
    c.credits_remaining = patch.credits?.remaining ?? null;
    c.credits_refill = patch.credits?.refill ? JSON.stringify(patch.credits.refill) : null;
  }
  if (patch.ipAllowlist !== undefined) c.ip_allowlist = JSON.stringify(patch.ipAllowlist);
  if (patch.expiresAt !== undefined) c.expires_at = normalizeTime(patch.expiresAt);
  if (patch.metadata !== undefined) c.metadata = JSON.stringify(patch.metadata);
  if (patch.roles !== undefined) c.roles = JSON.stringify(patch.roles);
  return c;
}

/** Every key not deleted, oldest id first; only `team`'s when it is not null (the hygiene report). */
export async function liveKeyRows(db: Db, team: string | null): Promise<KeyRow[]> {
  let q = db.selectFrom('keys').selectAll().where('status', '<>', 'deleted');
  if (team !== null) q = q.where('owner_team', '=', team);
  return q.orderBy('id').execute();
}

/** Keys not deleted that have a refill schedule (JSON), with when they were last refilled. */
export async function refillableKeys(
  db: Db,
): Promise<
  { id: string; credits_refill: string | null; credits_refilled_at: string | null; created_at: string }[]
> {
  return db
    .selectFrom('keys')
    .select(['id', 'credits_refill', 'credits_refilled_at', 'created_at'])
    .where('credits_refill', 'is not', null)
    .where('status', '<>', 'deleted')
    .execute();
}

/**
 * Sets a key's balance to `amount` unless it was already refilled since `boundary` (another node
 * won the period); true when this call refilled it.
 */
export function refillKey(
  db: Db,
  id: string,
  amount: number,
  at: string,
  boundary: string,
): Promise<boolean> {
  return refillBalance(db, 'keys', id, amount, at, boundary);
}

/** Active keys that expire after `at` and no later than `horizon`. */
export async function expiringKeys(
  db: Db,
  at: string,
  horizon: string,
): Promise<
  { id: string; name: string; environment: string; expires_at: string | null; owner_team: string | null }[]
> {
  return db
    .selectFrom('keys')
    .select(['id', 'name', 'environment', 'expires_at', 'owner_team'])
    .where('status', '=', 'active')
    .where('expires_at', '>', at)
    .where('expires_at', '<=', horizon)
    .execute();
}

/** Active keys with a credit balance, with their metadata (JSON, for a per-key low threshold). */
export async function creditedKeys(db: Db): Promise<
  {
    id: string;
    name: string;
    environment: string;
    credits_remaining: number | null;
    credits_refilled_at: string | null;
    metadata: string;
    owner_team: string | null;
  }[]
> {
  return db
    .selectFrom('keys')
    .select([
      'id',
      'name',
      'environment',
      'credits_remaining',
      'credits_refilled_at',
      'metadata',
      'owner_team',
    ])
    .where('status', '=', 'active')
    .where('credits_remaining', 'is not', null)
    .execute();
}
