/**
 * The verification log as minute rows (docs/verification-log.md): one row per minute per distinct
 * combination of key id (or key start), requested environment, code, client IP, user agent,
 * permissions and resource, with its count, first and last call and latency. Plain code with no
 * storage driver: the usage writer's worker thread loads it too.
 */
import { idAt } from '../../core/ids.js';
import type { VerificationEvent } from '../../core/ports.js';
import type { VerificationLogTable } from '../../storage/schema.js';
import { LOG_ID_PREFIX, addCalls, mergeRowsById } from '../../storage/usage-batch.js';

export const MINUTE_MS = 60_000;
/** User agents are kept (logged and counted) to this length. */
export const UA_MAX = 256;

/** Stands for null in a combination's text (no value of these fields holds it). */
const NIL = '\u0001';

/** The text that identifies a combination within its minute (exact: NUL never occurs in the values). */
export function comboText(
  keyId: string | null,
  keyStart: string | null,
  environment: string,
  code: string,
  ip: string | null,
  userAgent: string | null,
  permissions: string | null,
  resource: string | null,
): string {
  return `${keyId ?? NIL}\u0000${keyStart ?? NIL}\u0000${environment}\u0000${code}\u0000${ip ?? NIL}\u0000${
    userAgent ?? NIL
  }\u0000${permissions ?? NIL}\u0000${resource ?? NIL}`;
}

/** A row id handed out, with the batch that first wrote it (`MinuteLog.batch`). */
interface RowEntry {
  id: string;
  batch: number;
}

interface Minute {
  /** combination text → row */
  rows: Map<string, RowEntry>;
  /** code → the minute's overflow row of that code */
  overflow: Map<string, RowEntry>;
}

/**
 * The ids of the rows of recent minutes, so the calls of one combination in one minute add up in
 * one row across flushes (each flush upserts by id), and the cap: at most `maxRowsPerMinute`
 * combinations get a row per minute; further ones are counted in the minute's overflow row of
 * their code. Kept for the newest minutes only (events of an older minute, late after a storage
 * outage, start new rows: counts stay exact, a combination may then have two rows in a minute).
 * One per writer (a worker thread that restarts starts afresh, as does a restarted process).
 */
export class MinuteLog {
  private readonly minutes = new Map<number, Minute>();
  private newest = -Infinity;
  /** The batch (transaction) being built: `nextBatch` starts one. */
  private batch = 0;
  /**
   * Whether the id the last `rowId`/`overflowId` returned was handed out in an earlier batch: its
   * row is then most likely stored already, and the writer updates it (cheaper than an upsert,
   * which tries an insert first) and inserts it only when the update finds no row (that batch
   * failed). A field rather than a returned object: no allocation per row.
   */
  lastKnown = false;

  constructor(
    readonly maxRowsPerMinute: number,
    private readonly keepMinutes = 3,
  ) {}

  private minute(m: number): Minute {
    let x = this.minutes.get(m);
    if (x === undefined) {
      x = { rows: new Map(), overflow: new Map() };
      this.minutes.set(m, x);
      if (m > this.newest) {
        this.newest = m;
        for (const old of this.minutes.keys()) if (old <= m - this.keepMinutes) this.minutes.delete(old);
      }
    }
    return x;
  }

  /** Starts a batch: ids handed out before it are `lastKnown` from now on. */
  nextBatch(): void {
    this.batch++;
  }

  /**
   * Forgets the ids handed out since the last `nextBatch` (its transaction did not commit): a
   * re-decode of part of those events (runJob splitting a refused transaction) gives their rows
   * ids of their own first call, so a row's id never lies after its calls' first (`idAt`).
   */
  forgetBatch(): void {
    for (const x of this.minutes.values())
      for (const rows of [x.rows, x.overflow])
        for (const [k, e] of rows) if (e.batch === this.batch) rows.delete(k);
  }

  /** The id of the row of `combo` in minute `m` (a new one at its first call), or null when the minute is full. */
  rowId(m: number, combo: string, firstMs: number): string | null {
    const x = this.minute(m);
    let e = x.rows.get(combo);
    if (e === undefined) {
      if (x.rows.size >= this.maxRowsPerMinute) return null;
      e = { id: idAt(LOG_ID_PREFIX, firstMs), batch: this.batch };
      x.rows.set(combo, e);
    }
    this.lastKnown = e.batch < this.batch;
    return e.id;
  }

  /** The id of minute `m`'s overflow row of `code`. */
  overflowId(m: number, code: string, firstMs: number): string {
    const x = this.minute(m);
    let e = x.overflow.get(code);
    if (e === undefined) {
      e = { id: idAt(LOG_ID_PREFIX, firstMs), batch: this.batch };
      x.overflow.set(code, e);
    }
    this.lastKnown = e.batch < this.batch;
    return e.id;
  }
}

/** An overflow row: what identifies its calls is not kept, only the minute and the code. */
export function overflowRow(id: string, code: string, shadow = false): VerificationLogTable {
  return {
    id,
    at: '',
    last_at: '',
    key_id: null,
    key_start: null,
    environment: '*',
    permissions: null,
    resource: null,
    code,
    ip: null,
    user_agent: null,
    latency_us: 0,
    latency_sum_us: 0,
    count: 0,
    overflow: 1,
    shadow: shadow ? 1 : 0,
  };
}

/**
 * Minute rows built from event objects on the main thread: for the events that arrive while the
 * buffer of encoded events is full (storage down for long). Bounded like the writer's rows: at
 * most `maxRowsPerMinute` combinations per minute, the rest in overflow rows.
 */
export class RowSpill {
  private rows = new Map<string, VerificationLogTable>();
  overflowed = 0;

  constructor(private readonly minutes: MinuteLog) {}

  get size(): number {
    return this.rows.size;
  }

  add(e: VerificationEvent): void {
    const m = Math.floor(e.at / MINUTE_MS);
    const ua =
      e.userAgent === null || e.userAgent.length <= UA_MAX ? e.userAgent : e.userAgent.slice(0, UA_MAX);
    const perms = e.permissions.length === 0 ? null : e.permissions.join(',');
    const code = e.shadow === true ? `shadow:${e.code}` : e.code;
    const shadow = e.shadow === true;
    const combo = comboText(e.keyId, e.keyStart, e.environment, code, e.ip, ua, perms, e.resource);
    const iso = new Date(e.at).toISOString();
    let id = this.minutes.rowId(m, combo, e.at);
    let row: VerificationLogTable | undefined;
    if (id === null) {
      this.overflowed++;
      id = this.minutes.overflowId(m, code, e.at);
      row = this.rows.get(id) ?? overflowRow(id, e.code, shadow);
    } else {
      row = this.rows.get(id) ?? {
        ...overflowRow(id, e.code, shadow),
        key_id: e.keyId,
        key_start: e.keyStart,
        environment: e.environment,
        permissions: perms,
        resource: e.resource,
        ip: e.ip,
        user_agent: ua,
        overflow: 0,
      };
    }
    addCalls(row, 1, iso, iso, e.latencyUs, e.latencyUs);
    this.rows.set(id, row);
  }

  /** The rows so far, handed over (and forgotten). */
  drain(): VerificationLogTable[] {
    const out = [...this.rows.values()];
    this.rows = new Map();
    return out;
  }

  /** Rows that could not be written, back for the next flush. */
  restore(rows: readonly VerificationLogTable[]): void {
    for (const r of mergeRowsById([...rows, ...this.rows.values()])) this.rows.set(r.id, r);
  }
}
