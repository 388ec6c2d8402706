import type {
  Kysely,
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  Selectable,
  UnknownRow,
} from 'kysely';
import { auditHash, legacyAuditHash, sameDigest, switchOverTag } from '../core/audit.js';
import type { AuditLogTable, Database } from './schema.js';

type Db = Kysely<Database>;
export type AuditRow = Selectable<AuditLogTable>;

/**
 * Carries the audit chain's HMAC key on a database handle. Every service appends audit rows
 * inside its own transaction (`appendAudit(trx, …)`), and a Kysely transaction keeps the plugins
 * of the handle it was opened from, so the key reaches each append without every caller passing
 * it. The plugin changes no query. A handle without it cannot append or verify (it throws, so no
 * row is ever written unkeyed).
 */
class AuditChainKey implements KyselyPlugin {
  constructor(readonly key: Buffer) {}
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }
  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}

/** The same database with the audit chain's key attached (see AuditChainKey). */
export function withAuditKey(db: Db, key: Buffer): Db {
  return db.withPlugin(new AuditChainKey(key));
}

function chainKeyOf(db: Db): Buffer {
  for (const p of db.getExecutor().plugins) if (p instanceof AuditChainKey) return p.key;
  throw new Error('this database handle has no audit chain key (open it through withAuditKey)');
}

/** Meta rows recording the first row linked with HMAC and its seal (migration 0010_audit_hmac). */
export const KEYED_FROM = 'audit.keyed_from';
export const KEYED_FROM_TAG = 'audit.keyed_from_tag';

export interface AuditInput {
  at: string;
  actor: string | null;
  action: string;
  target: string | null;
  before: unknown;
  after: unknown;
  ip: string | null;
  /** The team the target belongs to; null or omitted: deployment-wide (global auditors only). */
  team?: string | null | undefined;
}

/**
 * Appends one row to the hash chain. Must run inside the transaction of the change it records.
 * The UPDATE … RETURNING on the single head row takes its row lock (PostgreSQL) or the write
 * lock (SQLite), so concurrent appends from several nodes are serialised and never fork the chain.
 */
export async function appendAudit(trx: Db, e: AuditInput): Promise<number> {
  const head = await trx
    .updateTable('audit_head')
    .set((eb) => ({ seq: eb('seq', '+', 1) }))
    .where('id', '=', 1)
    .returning(['seq', 'hash'])
    .executeTakeFirstOrThrow();
  const row = {
    id: head.seq,
    at: e.at,
    actor: e.actor,
    action: e.action,
    target: e.target,
    before: e.before === undefined || e.before === null ? null : JSON.stringify(e.before),
    after: e.after === undefined || e.after === null ? null : JSON.stringify(e.after),
    ip: e.ip,
  };
  const hash = auditHash(chainKeyOf(trx), row, head.hash);
  await trx
    .insertInto('audit_log')
    .values({ ...row, prev_hash: head.hash, hash, team: e.team ?? null })
    .execute();
  await trx.updateTable('audit_head').set({ hash }).where('id', '=', 1).execute();
  return row.id;
}

export interface AuditFilter {
  action?: string | undefined;
  actor?: string | undefined;
  target?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

/**
 * Newest first, keyset-paginated on the sequence number. `team` non-null limits the rows to
 * those whose target belongs to that team (a team-scoped auditor).
 */
export async function listAudit(
  db: Db,
  f: AuditFilter,
  limit: number,
  before: number | undefined,
  team: string | null,
): Promise<AuditRow[]> {
  let q = db.selectFrom('audit_log').selectAll();
  if (team !== null) q = q.where('team', '=', team);
  if (f.action !== undefined) q = q.where('action', '=', f.action);
  if (f.actor !== undefined) q = q.where('actor', '=', f.actor);
  if (f.target !== undefined) q = q.where('target', '=', f.target);
  if (f.from !== undefined) q = q.where('at', '>=', f.from);
  if (f.to !== undefined) q = q.where('at', '<', f.to);
  if (before !== undefined) q = q.where('id', '<', before);
  return q.orderBy('id', 'desc').limit(limit).execute();
}

export interface AuditHead {
  seq: number;
  hash: string;
  /** When the head row was written; null for an empty log. */
  at: string | null;
}

/** The newest row's sequence number and link: what to keep outside the database as an anchor. */
export async function auditHead(db: Db): Promise<AuditHead> {
  const head = await db
    .selectFrom('audit_head')
    .select(['seq', 'hash'])
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  const row =
    head.seq === 0
      ? undefined
      : await db.selectFrom('audit_log').select('at').where('id', '=', head.seq).executeTakeFirst();
  return { seq: head.seq, hash: head.hash, at: row?.at ?? null };
}

export interface ChainCheck {
  ok: boolean;
  entries: number;
  /** The first row that does not verify (or the anchor's row when the chain no longer holds it). */
  brokenAt: number | null;
}

/**
 * Re-computes the chain from the first row: rows below the recorded switch-over row with the
 * legacy SHA-256 link, every later row with the HMAC. Reports the first row whose stored hash or
 * link does not match, a gap (a deleted row), a head that does not match the last row, and, given
 * an `anchor` (a head kept outside the database), a chain that no longer holds that head: the
 * truncation that moving the head back would otherwise hide.
 */
export async function verifyAuditChain(db: Db, anchor?: { seq: number; hash: string }): Promise<ChainCheck> {
  const key = chainKeyOf(db);
  const keyedFrom = await db
    .selectFrom('meta')
    .select(['name', 'value'])
    .where('name', 'in', [KEYED_FROM, KEYED_FROM_TAG])
    .execute();
  const from = keyedFrom.find((m) => m.name === KEYED_FROM)?.value;
  const tag = keyedFrom.find((m) => m.name === KEYED_FROM_TAG)?.value;
  // Without a sealed switch-over every row must be keyed: moving the switch-over, or deleting its
  // seal, cannot pass rewritten rows off as legacy ones.
  const firstKeyed =
    from !== undefined &&
    tag !== undefined &&
    /^\d+$/.test(from) &&
    sameDigest(tag, switchOverTag(key, Number(from)))
      ? Number(from)
      : 1;
  let prev = '';
  let expectedId = 1;
  let entries = 0;
  let anchorSeen = false;
  const page = 1000;
  for (;;) {
    const rows = await db
      .selectFrom('audit_log')
      .selectAll()
      .where('id', '>=', expectedId)
      .orderBy('id', 'asc')
      .limit(page)
      .execute();
    for (const r of rows) {
      const id = r.id;
      const content = { ...r, id };
      const link = id >= firstKeyed ? auditHash(key, content, prev) : legacyAuditHash(content, prev);
      if (id !== expectedId || r.prev_hash !== prev || !sameDigest(link, r.hash)) {
        return { ok: false, entries: entries + 1, brokenAt: id };
      }
      if (anchor !== undefined && id === anchor.seq) {
        if (!sameDigest(r.hash, anchor.hash)) return { ok: false, entries: entries + 1, brokenAt: id };
        anchorSeen = true;
      }
      prev = r.hash;
      expectedId = id + 1;
      entries++;
    }
    if (rows.length < page) break;
  }
  const head = await db.selectFrom('audit_head').selectAll().where('id', '=', 1).executeTakeFirst();
  if (head !== undefined && (head.seq !== expectedId - 1 || head.hash !== prev)) {
    return { ok: false, entries, brokenAt: expectedId };
  }
  if (anchor !== undefined && !anchorSeen) return { ok: false, entries, brokenAt: anchor.seq };
  return { ok: true, entries, brokenAt: null };
}

/** Who an audit row's actor is, as the audit API names it. */
export type AuditActor =
  { type: 'admin_key'; id: string; name: string } | { type: 'member'; id: string; email: string };

/**
 * Names the actors of audit rows: an admin key by its name, a member (removed ones included) by
 * email. Ids that are neither (or gone) are left out.
 */
export async function auditActors(db: Db, ids: readonly string[]): Promise<Map<string, AuditActor>> {
  const out = new Map<string, AuditActor>();
  const adm = [...new Set(ids.filter((id) => id.startsWith('adm_')))];
  const mem = [...new Set(ids.filter((id) => id.startsWith('mem_')))];
  if (adm.length > 0) {
    const rows = await db.selectFrom('admin_keys').select(['id', 'name']).where('id', 'in', adm).execute();
    for (const r of rows) out.set(r.id, { type: 'admin_key', id: r.id, name: r.name });
  }
  if (mem.length > 0) {
    const rows = await db.selectFrom('members').select(['id', 'email']).where('id', 'in', mem).execute();
    for (const r of rows) out.set(r.id, { type: 'member', id: r.id, email: r.email });
  }
  return out;
}
