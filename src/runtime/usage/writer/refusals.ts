/**
 * Rows the database refuses. A usage transaction that fails is kept and tried again at the next
 * flush: right for a database that is down or busy, but a transaction the database refuses for what
 * it holds (a value out of a column's range, a constraint) fails the same way every time, and every
 * flush after it carries it: the log would stop. `runJob` (port.ts) therefore splits a refused
 * transaction until the refused call stands alone, writes the others, and writes that call
 * `salvaged`: counted, without the details a caller chose. What is refused even so is kept for the
 * next try, as before: it is not about what a caller chose (a schema a newer node changed, a value
 * of the server's own out of range), and nothing is dropped. Imports no storage driver: the worker
 * thread loads this file.
 * docs/verification-log.md#refused-rows.
 */
import {
  SEEN_OTHER,
  addCount,
  emptyBatch,
  seenKey,
  splitSeen,
  type UsageBatch,
} from '../../../storage/usage-batch.js';
import type { VerificationLogTable } from '../../../storage/schema.js';

/**
 * SQLite's result codes for a value or a row the database refuses. A trigger's RAISE
 * (`SQLITE_CONSTRAINT_TRIGGER`) is not among them: what a trigger checks is not known to be the row.
 */
const SQLITE_REFUSALS = new Set([
  'SQLITE_CONSTRAINT_CHECK',
  'SQLITE_CONSTRAINT_NOTNULL',
  'SQLITE_CONSTRAINT_UNIQUE',
  'SQLITE_CONSTRAINT_PRIMARYKEY',
  'SQLITE_CONSTRAINT_FOREIGNKEY',
  'SQLITE_CONSTRAINT_DATATYPE',
  'SQLITE_MISMATCH',
  'SQLITE_TOOBIG',
]);

/**
 * Whether the database refused what the transaction holds, so that the same transaction would fail
 * again: PostgreSQL's SQLSTATE classes 22 (data exception: out of range, bad encoding…) and 23
 * (integrity constraint violation), and SQLite's codes above. Anything else (a connection lost, a
 * lock, a full disk, a raised exception) may pass and is retried as it was.
 */
export function isRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  if (code.startsWith('SQLITE_')) return SQLITE_REFUSALS.has(code);
  return /^2[23][0-9A-Z]{3}$/.test(code);
}

/** Calls whose transaction was refused, counted without their details. */
export interface Refused {
  /** Calls written without the details a caller chose. */
  salvaged: number;
  /** The first refusal: the database's code and message. */
  reason: string;
}

/**
 * A refusal for the server's log: its code and message. A message may quote the refused value (an
 * IP, a user agent, a resource: what a caller sent, never a key or a secret, which usage rows do
 * not hold), cut to 200 characters.
 */
export function refusalReason(err: Error): string {
  const code = (err as { code?: unknown }).code;
  const text = `${typeof code === 'string' ? `${code}: ` : ''}${err.message}`;
  return text.length <= 200 ? text : `${text.slice(0, 199)}…`;
}

/**
 * A batch with what callers chose taken out, every count kept: each log row keeps its id, minute,
 * key, environment, outcome, count, times and latency, and becomes an overflow row (no IP, user
 * agent, permissions, resource or key start); the IPs and user agents seen are counted as
 * `SEEN_OTHER`; a permission used is counted as the key's grant that allowed it (a grant itself
 * stays: it is the key's own, already stored). Daily counters, last use and credits are the
 * server's own values and stay.
 */
export function salvaged(b: UsageBatch): UsageBatch {
  const strip = (r: VerificationLogTable): VerificationLogTable => ({
    ...r,
    key_start: null,
    permissions: null,
    resource: null,
    ip: null,
    user_agent: null,
    overflow: 1,
  });
  const out = emptyBatch();
  out.logs = b.logs.map(strip);
  out.updates = b.updates.map(strip);
  out.daily = new Map(b.daily);
  out.lastUsed = new Map(b.lastUsed);
  out.credits = new Map(b.credits);
  for (const [k, n] of b.seen) {
    const s = splitSeen(k);
    const value = s.kind === 'permission' ? (s.fold ?? s.value) : SEEN_OTHER;
    addCount(out.seen, seenKey(s.key_id, s.day, s.kind, value), n);
  }
  return out;
}
