import type { VerificationLogTable } from './schema.js';

/**
 * What one usage transaction writes: log rows, and counters aggregated in memory first so their
 * row count is bounded by keys, not calls. Plain data with no imports beyond types: it is built in
 * the usage writer's worker thread as well as on the main thread.
 */
export interface UsageBatch {
  /** Log rows new in this batch (inserted; added to if their id is stored already). */
  logs: VerificationLogTable[];
  /**
   * Log rows whose ids earlier batches of this writer handed out: most likely stored already, so
   * added to by id first (inserted when no row has the id: its batch failed). Same columns as `logs`.
   */
  updates: VerificationLogTable[];
  /** `dailyKey(keyId, day, code)` → count */
  daily: Map<string, number>;
  /** `seenKey(keyId, day, kind, value)` → count */
  seen: Map<string, number>;
  /** keyId → latest successful use (ISO) */
  lastUsed: Map<string, string>;
  /** keyId → credits used */
  credits: Map<string, number>;
}

export type SeenKind = 'ip' | 'ua' | 'permission';

/** The prefix of log row ids: the writer makes them (MinuteLog), time filters bound them (`inLogIdRange`). */
export const LOG_ID_PREFIX = 'vl';

export const emptyBatch = (): UsageBatch => ({
  logs: [],
  updates: [],
  daily: new Map(),
  seen: new Map(),
  lastUsed: new Map(),
  credits: new Map(),
});

/**
 * A counter map's entries in the order of their keys, which is the order of the tables' primary
 * keys (the parts are joined with NUL, below every other character). Written in that order, the
 * rows of a flush are neighbours in the B-trees (SQLite: a daily counter upsert ~2× cheaper than in
 * the calls' random order at 10k keys, docs/verification-log.md#writer-cpu), and every node takes
 * PostgreSQL's row locks in the same order, so two nodes adding to the same counters never deadlock.
 */
export const inKeyOrder = <V>(m: ReadonlyMap<string, V>): [string, V][] =>
  // The default sort compares UTF-16 code units like `<`, without a call into JavaScript per comparison.
  [...m.keys()].sort().map((k) => [k, m.get(k) as V]);

/** Log rows in the order of their ids (the table's primary key), for the same reasons. */
export const inIdOrder = <T extends { id: string }>(rows: T[]): T[] =>
  rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

export const dailyKey = (keyId: string, day: string, code: string): string =>
  `${keyId}\u0000${day}\u0000${code}`;
/**
 * A seen value's counter key. `fold` is what the value is counted as once the key has too many
 * values of its kind that day (`seenUpsertSql`): for a permission, the narrowest grant that allowed it when
 * that grant is wider than the value (null: the value is a grant itself, never folded); for IPs
 * and user agents it is always `SEEN_OTHER` and not part of the key.
 */
export const seenKey = (
  keyId: string,
  day: string,
  kind: SeenKind,
  value: string,
  fold: string | null = null,
): string =>
  fold === null || kind !== 'permission'
    ? `${keyId}\u0000${day}\u0000${kind}\u0000${value}`
    : `${keyId}\u0000${day}\u0000${kind}\u0000${value}\u0000${fold}`;

/**
 * The client addresses and user agents kept one by one per key and day: the caller chooses both
 * (the `ip` and `userAgent` of a verification), so a client sending a new one with every call would
 * otherwise add a row per call. Past this many, a key's further new values of the day are counted
 * in one row whose value is `SEEN_OTHER`.
 */
export const SEEN_VALUES_PER_DAY = 100;
export const SEEN_OTHER = '(other)';
/**
 * The permissions kept one by one per key and day. A grant wider than a call (`agents:invoke`,
 * `agents:*`, `*`) lets the caller choose the resource or action, and each choice was a value of its
 * own (`agents:invoke:<resource>`): past this many, such a value is counted as the narrowest grant
 * that allowed it (`grantAllowing`). That keeps governance's reading safe: the grant counts as used and stays in the suggested
 * permissions, which still allow every call made. A value that is a grant itself is never folded
 * (their number is bounded by the key's grants) but counts towards the cap. As many as a key may hold
 * of its own.
 */
export const SEEN_PERMISSIONS_PER_DAY = 200;

/**
 * The upsert of `key_usage_seen` rows for a VALUES list of (key_id, day, kind, value, n, fold), one
 * row per value, on both databases. A new value with a fold is kept as itself while the key has fewer
 * than the cap of its kind that day (`SEEN_VALUES_PER_DAY` IPs or user agents, or
 * `SEEN_PERMISSIONS_PER_DAY` permissions), and written as its fold past that. The values counted are
 * those stored, then the statement's new ones in primary-key order, whether they may fold or not: so
 * a batch gives the same rows written as one statement (PostgreSQL) or as several (SQLite's chunks).
 * Grouping merges what it folds (a row may not be upserted twice in one statement).
 */
export const seenUpsertSql = (values: string): string =>
  `insert into key_usage_seen (key_id, day, kind, value, n)
  select key_id, day, kind, value, sum(n) from (
    select key_id, day, kind, n,
      case when fold is null or present = 1 or stored + row_number() over (
          partition by key_id, day, kind, present order by value)
          <= case when kind = 'permission' then ${SEEN_PERMISSIONS_PER_DAY} else ${SEEN_VALUES_PER_DAY} end
        then value else fold end as value
    from (
      select v.column1 as key_id, v.column2 as day, v.column3 as kind, v.column4 as value,
        cast(v.column5 as integer) as n, v.column6 as fold,
        case when exists (select 1 from key_usage_seen s where s.key_id = v.column1 and s.day = v.column2
          and s.kind = v.column3 and s.value = v.column4) then 1 else 0 end as present,
        (select count(*) from (select 1 from key_usage_seen s where s.key_id = v.column1
          and s.day = v.column2 and s.kind = v.column3
          limit ${Math.max(SEEN_VALUES_PER_DAY, SEEN_PERMISSIONS_PER_DAY)}) as c) as stored
      from (values ${values}) as v
    ) as w
  ) as g
  where true
  group by key_id, day, kind, value
  on conflict (key_id, day, kind, value) do update set n = key_usage_seen.n + excluded.n`;

export const splitDaily = (k: string): { key_id: string; day: string; code: string } => {
  const [key_id = '', day = '', code = ''] = k.split('\u0000');
  return { key_id, day, code };
};
export interface SeenParts {
  key_id: string;
  day: string;
  kind: SeenKind;
  value: string;
  /** What the value is counted as past its kind's cap (null: kept as itself). */
  fold: string | null;
}
export const splitSeen = (k: string): SeenParts => {
  const [key_id = '', day = '', kind = 'ip', value = '', fold = null] = k.split('\u0000');
  return {
    key_id,
    day,
    kind: kind as SeenKind,
    value,
    fold: kind === 'permission' ? fold : SEEN_OTHER,
  };
};

export const addCount = (m: Map<string, number>, k: string, n = 1): void => {
  m.set(k, (m.get(k) ?? 0) + n);
};

/** Adds `from`'s counters, last-used times and credit uses into `into` (log rows are not moved). */
export function mergeCounters(into: UsageBatch, from: UsageBatch): void {
  for (const [k, n] of from.daily) addCount(into.daily, k, n);
  for (const [k, n] of from.seen) addCount(into.seen, k, n);
  for (const [k, n] of from.credits) addCount(into.credits, k, n);
  for (const [k, at] of from.lastUsed) {
    const p = into.lastUsed.get(k);
    if (p === undefined || p < at) into.lastUsed.set(k, at);
  }
}

export const isEmptyBatch = (b: UsageBatch): boolean =>
  b.logs.length === 0 &&
  b.updates.length === 0 &&
  b.daily.size === 0 &&
  b.seen.size === 0 &&
  b.lastUsed.size === 0 &&
  b.credits.size === 0;

/**
 * Adds a group of calls (count, first and last ms, latency max and sum) into a row. A row's null
 * last call and sum read as its first call and slowest, as everywhere (`storedLastAt`).
 */
export function addCalls(
  row: VerificationLogTable,
  count: number,
  firstIso: string,
  lastIso: string,
  maxUs: number,
  sumUs: number,
): void {
  const fresh = row.count === 0;
  const last = fresh ? lastIso : (row.last_at ?? row.at);
  const sum = fresh ? 0 : (row.latency_sum_us ?? row.latency_us);
  if (fresh || firstIso < row.at) row.at = firstIso;
  row.last_at = lastIso > last ? lastIso : last;
  row.count += count;
  row.latency_us = Math.max(row.latency_us, clampLatency(maxUs));
  row.latency_sum_us = sum + Math.round(sumUs);
}

/**
 * The slowest call a row records, at most: the log's `latency_us` is a 32-bit integer on PostgreSQL
 * (35 minutes), and a call measured across a paused process (a frozen container) passes it. The
 * sum (`latency_sum_us`) is a double and takes the call's own figure.
 */
export const LATENCY_MAX_US = 2_147_483_647;
export const clampLatency = (us: number): number => Math.min(LATENCY_MAX_US, Math.round(us));

/**
 * What a row stores of its last call and latency sum: null where they equal its first call and
 * slowest call (a row of one call, or of calls in one millisecond). Null reads as those everywhere
 * (the API, governance, narrowing, merges; as on rows from before migration 0012), and saves the
 * ISO time (24 bytes) of each such row: with many keys called now and then, most rows.
 * The writers' merges read a stored or incoming null the same way.
 */
export const storedLastAt = (r: VerificationLogTable): string | null =>
  r.last_at === r.at ? null : r.last_at;
export const storedLatencySum = (r: VerificationLogTable): number | null =>
  r.latency_sum_us === r.latency_us ? null : r.latency_sum_us;

/**
 * Rows of one batch merged by id: PostgreSQL refuses an upsert that touches a row twice in one
 * statement, and two rows of one id add up anyway.
 */
export function mergeRowsById(rows: readonly VerificationLogTable[]): VerificationLogTable[] {
  const byId = new Map<string, VerificationLogTable>();
  for (const r of rows) {
    const prev = byId.get(r.id);
    if (prev === undefined) byId.set(r.id, { ...r });
    else addCalls(prev, r.count, r.at, r.last_at ?? r.at, r.latency_us, r.latency_sum_us ?? r.latency_us);
  }
  return [...byId.values()];
}
