import { idBound } from '../core/ids.js';
import { IDENTITY_ID_PREFIX } from '../core/identity.js';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Storage } from './db.js';
import type { Database, VerificationLogTable } from './schema.js';
import {
  inIdOrder,
  inKeyOrder,
  mergeRowsById,
  seenUpsertSql,
  splitDaily,
  splitSeen,
  storedLastAt,
  storedLatencySum,
  type UsageBatch,
  LOG_ID_PREFIX,
} from './usage-batch.js';
import { writeUsageRowsSqlite } from './sqlite/usage-statements.js';

type Db = Kysely<Database>;
export type LogRow = Selectable<VerificationLogTable>;

const CHUNK = 400;

function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Writes a batch in one transaction. Counters use upserts that add (`n = n + excluded.n`) and the
 * credit balance a guarded subtraction that never goes below zero, so several nodes flushing at
 * once never lose or double a count. On SQLite the rows go through prepared statements
 * (sqlite/usage-statements.ts, the same ones the usage writer's worker thread runs on its own connection).
 * Why, and the log's indexes: docs/hot-path.md (#usage-statements-prepared-once, #verification-log-indexes).
 */
export async function writeUsageBatch(storage: Storage, b: UsageBatch): Promise<void> {
  const raw = storage.sqlite;
  await storage.db.transaction().execute(async (trx) => {
    if (raw !== undefined) writeUsageRowsSqlite(raw, b);
    else await writeRows(trx, b);
  });
}

/** Log rows, counters, last-used times and credits as multi-row statements (PostgreSQL). */
async function writeRows(trx: Db, b: UsageBatch): Promise<void> {
  // Rows of earlier flushes (`updates`) are upserted like new ones: one statement per chunk either way.
  // In primary-key order (usage-batch.ts `inKeyOrder`): every node locks rows in the same order.
  const logs = inIdOrder(mergeRowsById(b.updates.length === 0 ? b.logs : [...b.logs, ...b.updates]));
  for (const rows of chunks(logs)) {
    await trx
      .insertInto('verification_log')
      .values(rows.map((r) => ({ ...r, last_at: storedLastAt(r), latency_sum_us: storedLatencySum(r) })))
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({
          count: sql`verification_log.count + excluded.count`,
          at: sql`least(verification_log.at, excluded.at)`,
          last_at: sql`greatest(coalesce(verification_log.last_at, verification_log.at), coalesce(excluded.last_at, excluded.at))`,
          latency_us: sql`greatest(verification_log.latency_us, excluded.latency_us)`,
          latency_sum_us: sql`coalesce(verification_log.latency_sum_us, verification_log.latency_us) + coalesce(excluded.latency_sum_us, excluded.latency_us)`,
        }),
      )
      .execute();
  }
  const daily = inKeyOrder(b.daily).map(([k, n]) => ({ ...splitDaily(k), n }));
  for (const rows of chunks(daily)) {
    await trx
      .insertInto('key_usage_daily')
      .values(rows)
      .onConflict((oc) =>
        oc.columns(['key_id', 'day', 'code']).doUpdateSet({ n: sql`key_usage_daily.n + excluded.n` }),
      )
      .execute();
  }
  // Capped per key and day for IPs, user agents and permissions under wider grants: the same
  // statement as on SQLite (usage-batch.ts).
  const [seenHead = '', seenTail = ''] = seenUpsertSql('\u0001').split('\u0001');
  for (const rows of chunks(inKeyOrder(b.seen))) {
    const values = sql.join(
      rows.map(([k, n]) => {
        const x = splitSeen(k);
        return sql`(${x.key_id}, ${x.day}, ${x.kind}, ${x.value}, ${n}, ${x.fold})`;
      }),
    );
    await sql`${sql.raw(seenHead)}${values}${sql.raw(seenTail)}`.execute(trx);
  }
  // One UPDATE … FROM (VALUES …) per chunk instead of one statement per key; both engines
  // name the VALUES columns column1, column2.
  for (const rows of chunks(inKeyOrder(b.lastUsed))) {
    const values = sql.join(rows.map(([id, at]) => sql`(${id}, ${at})`));
    await sql`update keys set last_used_at = v.column2 from (values ${values}) as v
      where keys.id = v.column1 and (keys.last_used_at is null or keys.last_used_at < v.column2)`.execute(
      trx,
    );
  }
  for (const [id, used] of b.credits) {
    // An identity's shared balance is keyed by its `idn_` id (docs/identities.md).
    await trx
      .updateTable(id.startsWith(IDENTITY_ID_PREFIX) ? 'identities' : 'keys')
      .set({
        credits_remaining: sql<number>`case when credits_remaining >= ${used} then credits_remaining - ${used} else 0 end`,
      })
      .where('id', '=', id)
      .where('credits_remaining', 'is not', null)
      .execute();
  }
}

/**
 * Narrows `q` to the ids of log rows whose first call (`at`) lies from `fromIso` (inclusive) to
 * `toIso` (exclusive), for the primary key to find them by (there is no index on `at`, migration
 * 0021). A minute row's id has the time of its first call as written (core/ids.ts `idAt`), which
 * is never before `at` (a later flush may add an earlier call of the same minute) and within
 * `at`'s minute: so the ids lie from `fromIso` to a minute after `toIso`. Queries keep their exact
 * `at` conditions. Rows written before 0021 whose id was moved forward (a row written late, after
 * a storage outage) can lie past the upper bound; they age out with retention.
 */
export function inLogIdRange<Q extends WhereId<Q>>(q: Q, fromIso?: string, toIso?: string): Q {
  const from = fromIso === undefined ? NaN : Date.parse(fromIso);
  const to = toIso === undefined ? NaN : Date.parse(toIso);
  let out = q;
  if (!Number.isNaN(from)) out = out.where('id', '>=', idBound(LOG_ID_PREFIX, from));
  if (!Number.isNaN(to)) out = out.where('id', '<', idBound(LOG_ID_PREFIX, to + 60_000));
  return out;
}
/** A query on the log that takes conditions on `id` (a select or a delete). */
interface WhereId<Q> {
  where(column: 'id', op: '>=' | '<', value: string): Q;
}

export interface LogFilter {
  keyId?: string | undefined;
  /** Only the keys linked to this identity. */
  identityId?: string | undefined;
  code?: string | undefined;
  /** true: only shadow rows (a narrowing's would-have-refused calls); false: only real calls; undefined: both. */
  shadow?: boolean | undefined;
  from?: string | undefined;
  to?: string | undefined;
  /** Only keys of this team (team-scoped admin keys). */
  team?: string | null;
}

/** The query of `listLogs`, unexecuted (tests read its plan). */
export function logsQuery(db: Db, f: LogFilter, limit: number, cursor?: string) {
  let q = db.selectFrom('verification_log').selectAll('verification_log');
  if (f.team !== undefined && f.team !== null) {
    const team = f.team;
    q = q.where('key_id', 'in', (eb) => eb.selectFrom('keys').select('id').where('owner_team', '=', team));
  }
  if (f.keyId !== undefined) q = q.where('key_id', '=', f.keyId);
  if (f.identityId !== undefined) {
    const identityId = f.identityId;
    q = q.where('key_id', 'in', (eb) =>
      eb.selectFrom('keys').select('id').where('identity_id', '=', identityId),
    );
  }
  if (f.code !== undefined) q = q.where('code', '=', f.code);
  // The code index holds only the other codes (migration 0006): naming its predicate lets SQLite use it.
  if (f.code !== undefined && f.code !== 'VALID') q = q.where('code', '<>', 'VALID');
  // Shadow rows have a partial index of their own (migration 0016, vlog_shadow).
  if (f.shadow !== undefined) q = q.where('shadow', '=', f.shadow ? 1 : 0);
  if (f.from !== undefined) q = q.where('at', '>=', f.from);
  if (f.to !== undefined) q = q.where('at', '<', f.to);
  q = inLogIdRange(q, f.from, f.to);
  if (cursor !== undefined) q = q.where('id', '<', cursor);
  return q.orderBy('id', 'desc').limit(limit);
}

export function listLogs(db: Db, f: LogFilter, limit: number, cursor?: string): Promise<LogRow[]> {
  return logsQuery(db, f, limit, cursor).execute();
}

/** Retention's bounds per statement (each its own transaction): rows at most, and time aimed at. */
export const RETENTION_BATCH_MAX = 10_000;
export const RETENTION_BATCH_TARGET_MS = 50;

/**
 * Deletes log rows older than `beforeIso` (by their first call) in batches of at most
 * `RETENTION_BATCH_MAX` rows, each its own short transaction: one unbounded DELETE over a log of
 * hundreds of millions of rows would hold SQLite's write lock for minutes (every usage flush and
 * admin write waiting behind it) and make one huge PostgreSQL transaction. The batch size adapts
 * so a batch takes about `RETENTION_BATCH_TARGET_MS`. Each batch walks the primary key from the
 * oldest row: ids before `beforeIso` are rows whose calls all came before it (`inLogIdRange`); a
 * row of the minute before it whose id is later goes at the next run. Returns the rows deleted;
 * `maxBatches` bounds one run (the next run goes on).
 */
export async function deleteLogsBefore(
  db: Db,
  beforeIso: string,
  opts: { maxBatches?: number; batchMax?: number; onBatch?: (rows: number, ms: number) => void } = {},
): Promise<number> {
  const batchMax = opts.batchMax ?? RETENTION_BATCH_MAX;
  let sizing: RetentionSizing = { size: Math.min(1000, batchMax) };
  let total = 0;
  for (let i = 0; i < (opts.maxBatches ?? Infinity); i++) {
    const t0 = performance.now();
    const r = await db
      .deleteFrom('verification_log')
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('verification_log')
          .select('id')
          .where('id', '<', idBound(LOG_ID_PREFIX, Date.parse(beforeIso)))
          .orderBy('id')
          .limit(sizing.size),
      )
      .executeTakeFirst();
    const n = Number(r.numDeletedRows);
    const ms = performance.now() - t0;
    opts.onBatch?.(n, ms);
    total += n;
    if (n < sizing.size) break;
    // Between batches, the event loop serves what waited (on SQLite a statement holds it).
    await new Promise<void>((resolve) => setImmediate(resolve));
    sizing = nextRetentionBatch(sizing, n, ms, batchMax);
  }
  return total;
}

/** A retention batch's size, and the cost per row it was sized from (ms, smoothed). */
export interface RetentionSizing {
  size: number;
  perRow?: number;
}

/**
 * The next retention batch after one of `rows` rows that took `ms`. It aims below the target time,
 * since a batch's cost per row varies with what shares its commit (a WAL checkpoint on SQLite): the
 * cost per row is smoothed pessimistically (a slow batch counts at once, a fast one by halves),
 * and the size shrinks at once but grows at most twofold per batch.
 */
export function nextRetentionBatch(
  prev: RetentionSizing,
  rows: number,
  ms: number,
  batchMax: number,
): RetentionSizing {
  const last = ms / Math.max(1, rows);
  const perRow = prev.perRow === undefined ? last : Math.max(last, (prev.perRow + last) / 2);
  const aim = perRow > 0 ? Math.floor((RETENTION_BATCH_TARGET_MS * 0.7) / perRow) : batchMax;
  return { size: Math.max(100, Math.min(batchMax, aim, prev.size * 2)), perRow };
}

export interface UsageSummary {
  days: { day: string; counts: Record<string, number> }[];
  totals: Record<string, number>;
  ips: { value: string; count: number }[];
  userAgents: { value: string; count: number }[];
  permissions: { value: string; count: number }[];
}

export async function usageOf(db: Db, keyId: string, sinceDay: string): Promise<UsageSummary> {
  const daily = await db
    .selectFrom('key_usage_daily')
    .select(['day', 'code', 'n'])
    .where('key_id', '=', keyId)
    .where('day', '>=', sinceDay)
    .orderBy('day')
    .execute();
  const days = new Map<string, Record<string, number>>();
  const totals: Record<string, number> = {};
  for (const r of daily) {
    const n = Number(r.n);
    const d = days.get(r.day) ?? {};
    d[r.code] = n;
    days.set(r.day, d);
    totals[r.code] = (totals[r.code] ?? 0) + n;
  }
  const seen = await db
    .selectFrom('key_usage_seen')
    .select(['kind', 'value', (eb) => eb.fn.sum<string | number>('n').as('n')])
    .where('key_id', '=', keyId)
    .where('day', '>=', sinceDay)
    .groupBy(['kind', 'value'])
    .orderBy('value')
    .execute();
  const of = (kind: string): { value: string; count: number }[] =>
    seen.filter((r) => r.kind === kind).map((r) => ({ value: r.value, count: Number(r.n) }));
  return {
    days: [...days].map(([day, counts]) => ({ day, counts })),
    totals,
    ips: of('ip'),
    userAgents: of('ua'),
    permissions: of('permission'),
  };
}
