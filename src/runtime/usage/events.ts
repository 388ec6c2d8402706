import { compileGrants, grantAllowing, type Grants } from '../../core/permissions.js';
import type { VerificationEvent } from '../../core/ports.js';
import type { VerificationLogTable } from '../../storage/schema.js';
import {
  addCalls,
  addCount,
  clampLatency,
  dailyKey,
  seenKey,
  type UsageBatch,
} from '../../storage/usage-batch.js';
import { MINUTE_MS, UA_MAX, comboText, overflowRow, type MinuteLog } from './minutes.js';

/**
 * Verification events as they wait for the flush and cross to the writer (a worker thread on
 * SQLite): numbers in one typed array, strings as indices into a table of the distinct strings
 * of the batch (key ids, starts, permission lists, resources, IPs, user agents, codes and
 * environments repeat heavily). Structured clone of a string per field per event cost more than
 * the write; typed arrays cross by transfer and the table holds each string once.
 * Why, with the measurements and the tests that guard it: docs/hot-path.md#usage-events-as-columns.
 */
export interface EncodedEvents {
  n: number;
  /** NUMS per event: time (ms since the epoch), latency (µs). */
  nums: Float64Array;
  /** REFS per event, indices into `strings` (-1: null); see the R_ constants. */
  refs: Int32Array;
  strings: string[];
}

/** The code of a shadow event in the columns (a narrowing's would-have-refused call): a code of its own. */
export const SHADOW_PREFIX = 'shadow:';

/** The shadow codes as constant strings (no string built per event: the table lookup hashes it). */
const SHADOW_CODES = new Map<string, string>();
const shadowCode = (code: string): string => {
  let s = SHADOW_CODES.get(code);
  if (s === undefined) {
    s = SHADOW_PREFIX + code;
    SHADOW_CODES.set(code, s);
  }
  return s;
};

export const NUMS = 2;
export const REFS = 9;
const R_KEY = 0;
const R_START = 1;
/** One permission as itself, several joined with NUL (-1: none). */
const R_PERMS = 2;
const R_RESOURCE = 3;
const R_IP = 4;
const R_UA = 5;
const R_CODE = 6;
const R_ENV = 7;
/**
 * A VALID call's key grants, joined with NUL (-1: another outcome). Grouped on like the others:
 * calls of a key whose permissions changed within the batch count under the grants they had.
 */
const R_GRANTS = 8;

/**
 * The events of one flush interval, encoded as they are recorded. Besides a cheap hand-over this
 * keeps no per-request string alive until the flush (key ids and starts are the cache's own): a
 * million retained event objects or strings a second would be copied by every scavenge and
 * promoted, and typed arrays hold no pointers to scan.
 */
export class EventColumns {
  private n = 0;
  private nums: Float64Array;
  private refs: Int32Array;
  private strings: string[] = [];
  private index = new Map<string, number>();
  /**
   * Key ids and starts as pointers until `seal` (the hand-over, off the verification's latency):
   * among a million cached keys their strings are rarely in the CPU cache, and looking one up in
   * the table waits for it (docs/hot-path.md#usage-events-as-columns).
   */
  private keyIds: (string | null)[] = [];
  private keyStarts: (string | null)[] = [];
  /** A VALID call's key grants (the cache entry's shared list), joined once per list at `seal`. */
  private grantLists: (readonly string[] | null)[] = [];

  constructor(capacity = 1024) {
    this.nums = new Float64Array(capacity * NUMS);
    this.refs = new Int32Array(capacity * REFS);
  }

  get length(): number {
    return this.n;
  }

  push(e: VerificationEvent): void {
    if (this.n * REFS === this.refs.length) this.grow();
    const r = this.n * REFS;
    const refs = this.refs;
    this.keyIds.push(e.keyId);
    this.keyStarts.push(e.keyStart);
    this.grantLists.push(e.code === 'VALID' && e.shadow !== true ? (e.grants ?? null) : null);
    const p = e.permissions;
    refs[r + R_PERMS] = p.length === 0 ? -1 : this.ref(p.length === 1 ? (p[0] ?? '') : p.join('\u0000'));
    refs[r + R_RESOURCE] = this.ref(e.resource);
    refs[r + R_IP] = this.ref(e.ip);
    const ua = e.userAgent;
    refs[r + R_UA] = this.ref(ua === null || ua.length <= UA_MAX ? ua : ua.slice(0, UA_MAX));
    refs[r + R_CODE] = this.ref(e.shadow === true ? shadowCode(e.code) : e.code);
    refs[r + R_ENV] = this.ref(e.environment);
    const x = this.n * NUMS;
    this.nums[x] = e.at;
    this.nums[x + 1] = e.latencyUs;
    this.n++;
  }

  private ref(s: string | null): number {
    if (s === null) return -1;
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    return i;
  }

  private grow(): void {
    const nums = new Float64Array(this.nums.length * 2);
    nums.set(this.nums);
    this.nums = nums;
    const refs = new Int32Array(this.refs.length * 2);
    refs.set(this.refs);
    this.refs = refs;
  }

  /** The events recorded, with their key ids and starts looked up; the columns are not written to afterwards. */
  seal(): EncodedEvents {
    const refs = this.refs;
    const joined = new Map<readonly string[], number>();
    for (let i = 0; i < this.n; i++) {
      refs[i * REFS + R_KEY] = this.ref(this.keyIds[i] ?? null);
      refs[i * REFS + R_START] = this.ref(this.keyStarts[i] ?? null);
      const g = this.grantLists[i] ?? null;
      let gi = g === null ? -1 : joined.get(g);
      if (gi === undefined && g !== null) {
        gi = this.ref(g.join('\u0000'));
        joined.set(g, gi);
      }
      refs[i * REFS + R_GRANTS] = gi ?? -1;
    }
    this.index = new Map();
    this.keyIds = [];
    this.keyStarts = [];
    this.grantLists = [];
    return { n: this.n, nums: this.nums, refs, strings: this.strings };
  }
}

/** Events `from`..n as a compact copy whose buffers can be transferred to another thread. */
export function sliceEvents(ev: EncodedEvents, from: number): EncodedEvents {
  return {
    n: ev.n - from,
    nums: ev.nums.slice(from * NUMS, ev.n * NUMS),
    refs: ev.refs.slice(from * REFS, ev.n * REFS),
    strings: ev.strings,
  };
}

/**
 * ISO time (and day) of a millisecond, remembered for the next call. The writer asks for two per
 * row (its first and last call), mostly in different milliseconds of a few seconds: `toISOString`
 * per call was a fifth of building the rows, so the text up to the second is kept for the last two
 * seconds asked and the milliseconds appended.
 */
export class IsoClock {
  private ms = NaN;
  private secs: [number, number] = [NaN, NaN];
  private prefixes: [string, string] = ['', ''];
  iso = '';
  day = '';
  at(ms: number): string {
    if (ms !== this.ms) {
      this.ms = ms;
      const t = Math.floor(ms);
      const sec = Math.floor(t / 1000);
      let prefix: string;
      if (sec === this.secs[0]) prefix = this.prefixes[0];
      else if (sec === this.secs[1]) prefix = this.prefixes[1];
      else {
        // 'YYYY-MM-DDTHH:MM:SS.' (years 0–9999: toISOString's own form there)
        prefix = new Date(sec * 1000).toISOString().slice(0, 20);
        this.secs = [sec, this.secs[0]];
        this.prefixes = [prefix, this.prefixes[0]];
      }
      const m = t - sec * 1000;
      this.iso = `${prefix}${m < 10 ? '00' : m < 100 ? '0' : ''}${m}Z`;
      this.day = prefix.slice(0, 10);
    }
    return this.iso;
  }
}

/**
 * A permission a valid call used, and what it is counted as past the key's cap of the day (null:
 * never folded): see `seenKey` and `SEEN_PERMISSIONS_PER_DAY` (storage/usage-batch.ts).
 */
export type UsedPermission = readonly [value: string, fold: string | null];

/**
 * The permissions a valid call used: each narrowed to the resource it named when asked for all
 * resources, with the grant that allowed it as its fold when that grant is wider than the value.
 */
export function usedPermissions(
  permissions: readonly string[],
  resource: string | null,
  grants: Grants | null,
): UsedPermission[] {
  return permissions.map((p) => {
    const value = resource !== null && p.split(':').length === 2 ? `${p}:${resource}` : p;
    const grant = grants === null ? undefined : grantAllowing(grants, p, resource ?? undefined);
    return [value, grant === undefined || grant === value ? null : grant];
  });
}

/** Counts one verification of a known key into `b`'s daily counters, seen values and last use. */
export function countUse(
  b: UsageBatch,
  keyId: string,
  iso: string,
  day: string,
  code: string,
  ip: string | null,
  userAgent: string | null,
  used: readonly UsedPermission[],
): void {
  addCount(b.daily, dailyKey(keyId, day, code));
  if (ip !== null) addCount(b.seen, seenKey(keyId, day, 'ip', ip));
  if (userAgent !== null) addCount(b.seen, seenKey(keyId, day, 'ua', userAgent));
  if (code === 'VALID') {
    const prev = b.lastUsed.get(keyId);
    if (prev === undefined || prev < iso) b.lastUsed.set(keyId, iso);
    for (const [p, fold] of used) addCount(b.seen, seenKey(keyId, day, 'permission', p, fold));
  }
}

/** A key's grant list compiled once (the lists are the cache entries' shared ones). */
const COMPILED = new WeakMap<readonly string[], Grants>();
const grantsOf = (list: readonly string[] | null): Grants | null => {
  if (list === null) return null;
  let g = COMPILED.get(list);
  if (g === undefined) {
    g = compileGrants(list);
    COMPILED.set(list, g);
  }
  return g;
};

/** The counters of an event whose log row is not kept (the buffer is full): main thread, rare. */
export function countEvent(b: UsageBatch, e: VerificationEvent, clock: IsoClock): void {
  if (e.keyId === null || e.shadow === true) return;
  const iso = clock.at(e.at);
  const ua = e.userAgent === null ? null : e.userAgent.slice(0, UA_MAX);
  const used =
    e.code === 'VALID' ? usedPermissions(e.permissions, e.resource, grantsOf(e.grants ?? null)) : [];
  countUse(b, e.keyId, iso, clock.day, e.code, e.ip, ua, used);
}

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
