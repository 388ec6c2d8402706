import { IDENTITY_ID_PREFIX } from '../../core/identity.js';
import type { RawSqlite } from '../db.js';
import { splitDaily, splitSeen, type UsageBatch } from '../usage-batch.js';

/**
 * The usage writes on SQLite as statements prepared once per connection and run per row: with a
 * log row per verification, building and compiling large multi-row statements cost as much as
 * SQLite's own work (docs/hot-path.md#usage-statements-prepared-once). Used by both writers: the worker thread's own connection
 * (runtime/usage/writer/worker-entry.ts) and, in process, the server's connection inside a Kysely
 * transaction (usage-repo.ts). Imports no query builder, so the worker stays small.
 */
type Stmt = { run(...params: unknown[]): unknown };
interface SqliteStatements {
  log: Stmt;
  daily: Stmt;
  seen: Stmt;
  lastUsed: Stmt;
  credits: Stmt;
  identityCredits: Stmt;
}
const prepared = new WeakMap<RawSqlite, SqliteStatements>();

function statementsOf(raw: RawSqlite): SqliteStatements {
  let st = prepared.get(raw);
  if (st === undefined) {
    st = {
      // A minute row is written at its first flush and added to at the next ones (its id is kept
      // by the writer for the minute: runtime/usage/minutes.ts).
      log: raw.prepare(`insert into verification_log
        (id, at, last_at, key_id, key_start, environment, permissions, resource, code, ip, user_agent,
         latency_us, latency_sum_us, count, overflow, shadow)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        on conflict (id) do update set
          count = verification_log.count + excluded.count,
          at = min(verification_log.at, excluded.at),
          last_at = max(coalesce(verification_log.last_at, verification_log.at), excluded.last_at),
          latency_us = max(verification_log.latency_us, excluded.latency_us),
          latency_sum_us = coalesce(verification_log.latency_sum_us, verification_log.latency_us)
            + excluded.latency_sum_us`),
      daily: raw.prepare(`insert into key_usage_daily (key_id, day, code, n) values (?, ?, ?, ?)
        on conflict (key_id, day, code) do update set n = key_usage_daily.n + excluded.n`),
      seen: raw.prepare(`insert into key_usage_seen (key_id, day, kind, value, n) values (?, ?, ?, ?, ?)
        on conflict (key_id, day, kind, value) do update set n = key_usage_seen.n + excluded.n`),
      lastUsed: raw.prepare(`update keys set last_used_at = ?
        where id = ? and (last_used_at is null or last_used_at < ?)`),
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

/**
 * Writes a batch with `raw`'s prepared statements. Runs inside the caller's transaction: the
 * worker's own, or Kysely's on the server's connection (its SQLite dialect shares that one
 * connection, so a statement run inside one of its transactions is part of it).
 */
export function writeUsageRowsSqlite(raw: RawSqlite, b: UsageBatch): void {
  const st = statementsOf(raw);
  for (const r of b.logs) {
    st.log.run(
      r.id,
      r.at,
      r.last_at,
      r.key_id,
      r.key_start,
      r.environment,
      r.permissions,
      r.resource,
      r.code,
      r.ip,
      r.user_agent,
      r.latency_us,
      r.latency_sum_us,
      r.count,
      r.overflow,
      r.shadow,
    );
  }
  for (const [k, n] of b.daily) {
    const d = splitDaily(k);
    st.daily.run(d.key_id, d.day, d.code, n);
  }
  for (const [k, n] of b.seen) {
    const x = splitSeen(k);
    st.seen.run(x.key_id, x.day, x.kind, x.value, n);
  }
  for (const [id, at] of b.lastUsed) st.lastUsed.run(at, id, at);
  for (const [id, used] of b.credits)
    (id.startsWith(IDENTITY_ID_PREFIX) ? st.identityCredits : st.credits).run(used, used, id);
}
