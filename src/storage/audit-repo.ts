import type { Kysely, Selectable } from 'kysely';
import { auditHash } from '../core/audit.js';
import type { AuditLogTable, Database } from './schema.js';

type Db = Kysely<Database>;
export type AuditRow = Selectable<AuditLogTable>;

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
  const hash = auditHash(row, head.hash);
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

/**
 * Re-computes the chain from the first row. Reports the first row whose stored hash or link
 * does not match, and also a gap (a deleted row) or a head that does not match the last row.
 */
export async function verifyAuditChain(
  db: Db,
): Promise<{ ok: boolean; entries: number; brokenAt: number | null }> {
  let prev = '';
  let expectedId = 1;
  let entries = 0;
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
      if (id !== expectedId || r.prev_hash !== prev || auditHash({ ...r, id }, prev) !== r.hash) {
        return { ok: false, entries: entries + rows.length, brokenAt: id };
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
  return { ok: true, entries, brokenAt: null };
}
