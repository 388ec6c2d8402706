import { IDENTITY_ID_PREFIX } from '../../core/identity.js';
import type { RawSqlite } from '../db.js';
import type { VerificationLogTable } from '../schema.js';
import {
  inIdOrder,
  inKeyOrder,
  seenUpsertSql,
  splitDaily,
  splitSeen,
  storedLastAt,
  storedLatencySum,
  type UsageBatch,
} from '../usage-batch.js';

/**
 * The usage writes on SQLite as statements prepared once per connection. Used by both writers: the
 * worker thread's own connection (runtime/usage/writer/worker-entry.ts) and, in process, the
 * server's connection inside a Kysely transaction (usage-repo.ts). Imports no query builder, so the
 * worker stays small.
 *
 * A flush writes per distinct combination, not per call (minute rows): a few thousand rows, most of
 * them adding to rows an earlier flush of the minute wrote. What each costs (docs/verification-log.md
 * #writer-cpu): a row already stored is added to by an UPDATE by id (an upsert first tries an insert,
 * ~1.5× the work); new rows and the counters go through multi-row statements of `CHUNK` rows (one
 * call into SQLite per chunk instead of per row), prepared once like the single-row ones that take
 * the remainder (docs/hot-path.md#usage-statements-prepared-once). Rows go in primary-key order
 * (`inKeyOrder`): neighbours in the B-trees.
 */
type Stmt = { run(...params: unknown[]): unknown };
/** A statement for one row and one for `CHUNK` rows. */
interface Chunked {
  one: Stmt;
  many: Stmt;
}
interface SqliteStatements {
  log: Chunked;
  logAdd: Stmt;
  daily: Chunked;
  seen: Chunked;
  seenAdd: Stmt;
  lastUsed: Chunked;
  credits: Stmt;
  identityCredits: Stmt;
}
const prepared = new WeakMap<RawSqlite, SqliteStatements>();

/** Rows per multi-row statement: past ~32 the call overhead saved no longer shows (16 columns × 64 ≪ the 32,766 variables SQLite allows). */
const CHUNK = 64;

const tuples = (n: number, width: number): string =>
  Array.from({ length: n }, () => `(${Array.from({ length: width }, () => '?').join(', ')})`).join(', ');

function chunked(raw: RawSqlite, width: number, sql: (values: string) => string): Chunked {
  return { one: raw.prepare(sql(tuples(1, width))), many: raw.prepare(sql(tuples(CHUNK, width))) };
}

function statementsOf(raw: RawSqlite): SqliteStatements {
  let st = prepared.get(raw);
  if (st === undefined) {
    st = {
      // A minute row is written at its first flush and added to at the next ones (its id is kept
      // by the writer for the minute: runtime/usage/minutes.ts).
      log: chunked(
        raw,
        16,
        (values) => `insert into verification_log
        (id, at, last_at, key_id, key_start, environment, permissions, resource, code, ip, user_agent,
         latency_us, latency_sum_us, count, overflow, shadow)
        values ${values}
        on conflict (id) do update set
          count = verification_log.count + excluded.count,
          at = min(verification_log.at, excluded.at),
          last_at = max(coalesce(verification_log.last_at, verification_log.at),
            coalesce(excluded.last_at, excluded.at)),
          latency_us = max(verification_log.latency_us, excluded.latency_us),
          latency_sum_us = coalesce(verification_log.latency_sum_us, verification_log.latency_us)
            + coalesce(excluded.latency_sum_us, excluded.latency_us)`,
      ),
      // The same addition as the upsert's, by id (every right-hand side reads the row's old values).
      logAdd: raw.prepare(`update verification_log set
          count = count + ?,
          at = min(at, ?),
          last_at = max(coalesce(last_at, at), ?),
          latency_us = max(latency_us, ?),
          latency_sum_us = coalesce(latency_sum_us, latency_us) + ?
        where id = ?`),
      daily: chunked(
        raw,
        4,
        (values) => `insert into key_usage_daily (key_id, day, code, n) values ${values}
        on conflict (key_id, day, code) do update set n = key_usage_daily.n + excluded.n`,
      ),
      // New values: capped per key and day (usage-batch.ts, `seenUpsertSql`).
      seen: chunked(raw, 6, seenUpsertSql),
      // A value an earlier flush stored: added to by its primary key, no cap to check.
      seenAdd: raw.prepare(
        'update key_usage_seen set n = n + ? where key_id = ? and day = ? and kind = ? and value = ?',
      ),
      // UPDATE … FROM names the VALUES columns column1, column2 (SQLite ≥ 3.33).
      lastUsed: chunked(
        raw,
        2,
        (values) => `update keys set last_used_at = v.column2 from (values ${values}) as v
        where keys.id = v.column1 and (keys.last_used_at is null or keys.last_used_at < v.column2)`,
      ),
      // A guarded subtraction that never goes below zero (as the PostgreSQL path in usage-repo.ts).
      credits: raw.prepare(`update keys
        set credits_remaining = case when credits_remaining >= ? then credits_remaining - ? else 0 end
        where id = ? and credits_remaining is not null`),
      // The same for an identity's shared balance (its uses are keyed by its `idn_` id).
      identityCredits: raw.prepare(`update identities
        set credits_remaining = case when credits_remaining >= ? then credits_remaining - ? else 0 end
        where id = ? and credits_remaining is not null`),
    };
    prepared.set(raw, st);
  }
  return st;
}

/** Runs `st` over `items`, `CHUNK` at a time, with the parameters `push` appends per item. */
function runChunked<T>(st: Chunked, items: Iterable<T>, push: (params: unknown[], item: T) => void): void {
  let params: unknown[] = [];
  let n = 0;
  for (const item of items) {
    push(params, item);
    if (++n === CHUNK) {
      st.many.run(...params);
      params = [];
      n = 0;
    }
  }
  if (n === 0) return;
  const width = params.length / n;
  for (let i = 0; i < params.length; i += width) st.one.run(...params.slice(i, i + width));
}

/**
 * Adds the counts of the seen values already stored (most of them: a key's IP, user agent and
 * permissions recur all day), one UPDATE by primary key each; returns the values that were not
 * stored (new ones, for the capped insert).
 */
function storedSeenAdded(st: SqliteStatements, entries: [string, number][]): [string, number][] {
  const fresh: [string, number][] = [];
  for (const e of entries) {
    const x = splitSeen(e[0]);
    if ((st.seenAdd.run(e[1], x.key_id, x.day, x.kind, x.value) as { changes: number }).changes === 0)
      fresh.push(e);
  }
  return fresh;
}

const logParams = (p: unknown[], r: VerificationLogTable): void => {
  p.push(
    r.id,
    r.at,
    storedLastAt(r),
    r.key_id,
    r.key_start,
    r.environment,
    r.permissions,
    r.resource,
    r.code,
    r.ip,
    r.user_agent,
    r.latency_us,
    storedLatencySum(r),
    r.count,
    r.overflow,
    r.shadow,
  );
};

/**
 * Writes a batch with `raw`'s prepared statements. Runs inside the caller's transaction: the
 * worker's own, or Kysely's on the server's connection (its SQLite dialect shares that one
 * connection, so a statement run inside one of its transactions is part of it).
 */
export function writeUsageRowsSqlite(raw: RawSqlite, b: UsageBatch): void {
  const st = statementsOf(raw);
  // Rows an earlier batch wrote: added to by id; those it did not (that batch failed) are inserted.
  const missing: VerificationLogTable[] = [];
  for (const r of inIdOrder([...b.updates])) {
    const res = st.logAdd.run(
      r.count,
      r.at,
      r.last_at ?? r.at,
      r.latency_us,
      r.latency_sum_us ?? r.latency_us,
      r.id,
    ) as {
      changes: number;
    };
    if (res.changes === 0) missing.push(r);
  }
  runChunked(st.log, missing.length === 0 ? b.logs : [...b.logs, ...missing], logParams);
  runChunked(st.daily, inKeyOrder(b.daily), (p, [k, n]) => {
    const d = splitDaily(k);
    p.push(d.key_id, d.day, d.code, n);
  });
  runChunked(st.seen, storedSeenAdded(st, inKeyOrder(b.seen)), (p, [k, n]) => {
    const x = splitSeen(k);
    p.push(x.key_id, x.day, x.kind, x.value, n, x.fold);
  });
  runChunked(st.lastUsed, inKeyOrder(b.lastUsed), (p, [id, at]) => {
    p.push(id, at);
  });
  for (const [id, used] of b.credits)
    (id.startsWith(IDENTITY_ID_PREFIX) ? st.identityCredits : st.credits).run(used, used, id);
}
