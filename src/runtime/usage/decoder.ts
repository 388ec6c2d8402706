/**
 * From encoded events (events.ts) to minute rows (minutes.ts) and their counters: what the usage
 * writer runs for each transaction of a flush (writer/port.ts), in its worker thread on SQLite.
 * Why events cross as columns and are grouped this way: docs/hot-path.md#usage-events-as-columns.
 */
import { compileGrants, type Grants } from '../../core/permissions.js';
import type { VerificationLogTable } from '../../storage/schema.js';
import {
  addCalls,
  addCount,
  clampLatency,
  dailyKey,
  seenKey,
  type UsageBatch,
} from '../../storage/usage-batch.js';
import { usedPermissions, type IsoClock, type UsedPermission } from './counting.js';
import {
  NUMS,
  REFS,
  R_CODE,
  R_ENV,
  R_GRANTS,
  R_IP,
  R_KEY,
  R_PERMS,
  R_RESOURCE,
  R_START,
  R_UA,
  SHADOW_PREFIX,
  type EncodedEvents,
} from './events.js';
import { MINUTE_MS, comboText, overflowRow, type MinuteLog } from './minutes.js';

const sameRefs = (refs: Int32Array, a: number, b: number): boolean => {
  for (let j = 0; j < REFS; j++) if (refs[a + j] !== refs[b + j]) return false;
  return true;
};

/** A minute's overflow row of one code, as one transaction adds to it. */
interface OverflowRow {
  row: VerificationLogTable;
  /** Its id was handed out by an earlier transaction (`MinuteLog.lastKnown`). */
  known: boolean;
}

/** The calls of one combination of refs within one minute, in one transaction's events. */
interface Group {
  /** An event of the group: where its refs are read. */
  event: number;
  minute: number;
  count: number;
  first: number;
  last: number;
  maxUs: number;
  sumUs: number;
}

/**
 * Aggregates events `from`..`to` into minute rows (minutes.ts) and their usage counters, into
 * `b`. Runs where the batch is written: in the worker thread on SQLite. Per event it costs one
 * lookup of its refs in a map; the rows, ids, strings and counters are built per distinct
 * combination. Lists derived from a string (a permission list split, its column form, the
 * permissions used with a resource) are made once per batch.
 */
export class EventDecoder {
  private readonly lists = new Map<number, readonly string[]>();
  private readonly columns = new Map<number, string>();
  private readonly used = new Map<number, Map<number, readonly UsedPermission[]>>();
  private readonly grantSets = new Map<number, Grants>();
  /** Calls counted in overflow rows by the last `decode`s (the cap was reached). */
  overflowed = 0;

  constructor(
    private readonly ev: EncodedEvents,
    private readonly clock: IsoClock,
    private readonly minutes: MinuteLog,
  ) {}

  /**
   * Aggregates events from `from` on, up to `to`, stopping before the event that would make more
   * than `maxRows` groups (rows): what a transaction writes is bounded by rows, not calls. Returns
   * the index it stopped at (at least `from + 1`).
   */
  decode(b: UsageBatch, from: number, to: number, maxRows = Infinity): number {
    const { nums, refs } = this.ev;
    // Groups found by an open-addressing table over the events' refs and minute: no string or
    // object per event (a joined string key cost more than the rest of the writer's work).
    const most = Math.min(to - from, maxRows);
    let cap = 1024;
    while (cap < most * 2 && cap < 1 << 26) cap *= 2;
    const slots = new Int32Array(cap).fill(-1);
    const groups: Group[] = [];
    const mask = cap - 1;
    // The table stays at most half full (a longer batch goes on in the next call).
    const limit = Math.min(maxRows, cap >> 1);
    let end = to;
    for (let i = from; i < to; i++) {
      const r = i * REFS;
      const at = nums[i * NUMS] ?? 0;
      const lat = nums[i * NUMS + 1] ?? 0;
      const minute = Math.floor(at / MINUTE_MS);
      let h = minute | 0;
      for (let j = 0; j < REFS; j++) h = Math.imul(h ^ (refs[r + j] ?? 0), 0x9e3779b1);
      h ^= h >>> 15;
      let slot = h & mask;
      let g: Group | undefined;
      for (;;) {
        const gi = slots[slot] ?? -1;
        if (gi < 0) break;
        const c = groups[gi] as Group;
        if (c.minute === minute && sameRefs(refs, c.event * REFS, r)) {
          g = c;
          break;
        }
        slot = (slot + 1) & mask;
      }
      if (g === undefined) {
        if (groups.length >= limit) {
          end = i;
          break;
        }
        slots[slot] = groups.length;
        groups.push({ event: i, minute, count: 1, first: at, last: at, maxUs: lat, sumUs: lat });
      } else {
        g.count++;
        if (at < g.first) g.first = at;
        if (at > g.last) g.last = at;
        if (lat > g.maxUs) g.maxUs = lat;
        g.sumUs += lat;
      }
    }
    this.minutes.nextBatch();
    const overflowRows = new Map<string, OverflowRow>();
    for (const g of groups) this.addGroup(b, g, overflowRows);
    for (const o of overflowRows.values()) (o.known ? b.updates : b.logs).push(o.row);
    return end;
  }

  private addGroup(b: UsageBatch, g: Group, overflowRows: Map<string, OverflowRow>): void {
    const { refs, strings } = this.ev;
    const str = (i: number | undefined): string | null =>
      i === undefined || i < 0 ? null : (strings[i] ?? null);
    const r = g.event * REFS;
    const keyId = str(refs[r + R_KEY]);
    const keyStart = str(refs[r + R_START]);
    const perms = refs[r + R_PERMS] ?? -1;
    const resourceRef = refs[r + R_RESOURCE] ?? -1;
    const resource = str(resourceRef);
    // A shadow event's code is its own in the combination and overflow row; stored as the code, marked.
    const codeRef = str(refs[r + R_CODE]) ?? 'MALFORMED';
    const shadow = codeRef.startsWith(SHADOW_PREFIX);
    const code = shadow ? codeRef.slice(SHADOW_PREFIX.length) : codeRef;
    const environment = str(refs[r + R_ENV]) ?? 'production';
    const ip = str(refs[r + R_IP]);
    const ua = str(refs[r + R_UA]);
    const permissions = perms < 0 ? null : this.column(perms);
    const last = this.clock.at(g.last);
    const first = this.clock.at(g.first);
    const day = this.clock.day;
    const combo = comboText(keyId, keyStart, environment, codeRef, ip, ua, permissions, resource);
    const id = this.minutes.rowId(g.minute, combo, g.first);
    if (id === null) {
      this.overflowed += g.count;
      const oid = this.minutes.overflowId(g.minute, codeRef, g.first);
      let o = overflowRows.get(oid);
      if (o === undefined) {
        o = { row: overflowRow(oid, code, shadow), known: this.minutes.lastKnown };
        overflowRows.set(oid, o);
      }
      addCalls(o.row, g.count, first, last, g.maxUs, g.sumUs);
    } else {
      (this.minutes.lastKnown ? b.updates : b.logs).push({
        id,
        at: first,
        last_at: last,
        key_id: keyId,
        key_start: keyStart,
        environment,
        permissions,
        resource,
        code,
        ip,
        user_agent: ua,
        latency_us: clampLatency(g.maxUs),
        latency_sum_us: Math.round(g.sumUs),
        count: g.count,
        overflow: 0,
        shadow: shadow ? 1 : 0,
      });
    }
    // A shadow call was counted as the call it is (VALID): it is no usage of its own.
    if (keyId === null || shadow) return;
    // The key's counters, from the row: a combination lies within one minute, so within one day.
    addCount(b.daily, dailyKey(keyId, day, code), g.count);
    // Seen values of overflowed calls are not kept: a flood of distinct IPs stays bounded here too.
    if (id !== null) {
      if (ip !== null) addCount(b.seen, seenKey(keyId, day, 'ip', ip), g.count);
      if (ua !== null) addCount(b.seen, seenKey(keyId, day, 'ua', ua), g.count);
    }
    if (code !== 'VALID') return;
    const prev = b.lastUsed.get(keyId);
    if (prev === undefined || prev < last) b.lastUsed.set(keyId, last);
    if (perms >= 0)
      for (const [p, fold] of this.usedList(perms, resourceRef, refs[r + R_GRANTS] ?? -1))
        addCount(b.seen, seenKey(keyId, day, 'permission', p, fold), g.count);
  }

  private list(perms: number): readonly string[] {
    let l = this.lists.get(perms);
    if (l === undefined) {
      l = (this.ev.strings[perms] ?? '').split('\u0000');
      this.lists.set(perms, l);
    }
    return l;
  }

  /** The permissions column: comma-separated, as `GET /v1/logs` reads it. */
  private column(perms: number): string {
    let c = this.columns.get(perms);
    if (c === undefined) {
      c = this.list(perms).join(',');
      this.columns.set(perms, c);
    }
    return c;
  }

  private usedList(perms: number, resource: number, grants: number): readonly UsedPermission[] {
    let byCall = this.used.get(perms);
    if (byCall === undefined) {
      byCall = new Map();
      this.used.set(perms, byCall);
    }
    // One number for the pair of refs (each below the table's length, or -1).
    const k = (resource + 1) * (this.ev.strings.length + 1) + (grants + 1);
    let l = byCall.get(k);
    if (l === undefined) {
      const res = resource < 0 ? null : (this.ev.strings[resource] ?? null);
      l = usedPermissions(this.list(perms), res, this.grantSet(grants));
      byCall.set(k, l);
    }
    return l;
  }

  private grantSet(grants: number): Grants | null {
    if (grants < 0) return null;
    let g = this.grantSets.get(grants);
    if (g === undefined) {
      g = compileGrants((this.ev.strings[grants] ?? '').split('\u0000'));
      this.grantSets.set(grants, g);
    }
    return g;
  }
}
