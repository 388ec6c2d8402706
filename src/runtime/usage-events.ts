import { newId } from '../core/ids.js';
import type { VerificationEvent } from '../core/ports.js';
import { addCount, dailyKey, seenKey, type UsageBatch } from '../storage/usage-batch.js';

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

export const NUMS = 2;
export const REFS = 8;
const R_KEY = 0;
const R_START = 1;
/** One permission as itself, several joined with NUL (-1: none). */
const R_PERMS = 2;
const R_RESOURCE = 3;
const R_IP = 4;
const R_UA = 5;
const R_CODE = 6;
const R_ENV = 7;

/** User agents are kept (logged and counted) to this length. */
const UA_MAX = 256;

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
    const p = e.permissions;
    refs[r + R_PERMS] = p.length === 0 ? -1 : this.ref(p.length === 1 ? (p[0] ?? '') : p.join('\u0000'));
    refs[r + R_RESOURCE] = this.ref(e.resource);
    refs[r + R_IP] = this.ref(e.ip);
    const ua = e.userAgent;
    refs[r + R_UA] = this.ref(ua === null || ua.length <= UA_MAX ? ua : ua.slice(0, UA_MAX));
    refs[r + R_CODE] = this.ref(e.code);
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
    for (let i = 0; i < this.n; i++) {
      refs[i * REFS + R_KEY] = this.ref(this.keyIds[i] ?? null);
      refs[i * REFS + R_START] = this.ref(this.keyStarts[i] ?? null);
    }
    this.index = new Map();
    this.keyIds = [];
    this.keyStarts = [];
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

/** ISO time (and day) of a millisecond, remembered for the next event (consecutive events share most). */
export class IsoClock {
  private ms = NaN;
  iso = '';
  day = '';
  at(ms: number): string {
    if (ms !== this.ms) {
      this.ms = ms;
      this.iso = new Date(ms).toISOString();
      this.day = this.iso.slice(0, 10);
    }
    return this.iso;
  }
}

/** The permission a valid call used: narrowed to the resource it named, when the grant was for all. */
const usedPermission = (p: string, resource: string | null): string =>
  resource !== null && p.split(':').length === 2 ? `${p}:${resource}` : p;

/** Counts one verification of a known key into `b`'s daily counters, seen values and last use. */
export function countUse(
  b: UsageBatch,
  keyId: string,
  iso: string,
  day: string,
  code: string,
  ip: string | null,
  userAgent: string | null,
  used: readonly string[],
): void {
  addCount(b.daily, dailyKey(keyId, day, code));
  if (ip !== null) addCount(b.seen, seenKey(keyId, day, 'ip', ip));
  if (userAgent !== null) addCount(b.seen, seenKey(keyId, day, 'ua', userAgent));
  if (code === 'VALID') {
    const prev = b.lastUsed.get(keyId);
    if (prev === undefined || prev < iso) b.lastUsed.set(keyId, iso);
    for (const p of used) addCount(b.seen, seenKey(keyId, day, 'permission', p));
  }
}

/** The counters of an event whose log row is not kept (the buffer is full): main thread, rare. */
export function countEvent(b: UsageBatch, e: VerificationEvent, clock: IsoClock): void {
  if (e.keyId === null) return;
  const iso = clock.at(e.at);
  const ua = e.userAgent === null ? null : e.userAgent.slice(0, UA_MAX);
  const used = e.code === 'VALID' ? e.permissions.map((p) => usedPermission(p, e.resource)) : [];
  countUse(b, e.keyId, iso, clock.day, e.code, e.ip, ua, used);
}

/** Kinds of seen values in `RefCounters.seen` keys (the lowest base-3 digit). */
const SEEN_IP = 0;
const SEEN_UA = 1;
const SEEN_PERMISSIONS = 2;

/**
 * One day's counters of a decode, keyed by numbers made of the batch's string refs instead of
 * joined strings: an event costs a few Map updates on numbers, and the string keys of the batch
 * are built once per distinct key (a key's daily count, each seen value) when `flush`ed.
 * `m` exceeds every ref and combination number, so keys are exact (see `EventDecoder.decode`).
 */
class RefCounters {
  /** key * m + code → count */
  readonly daily = new Map<number, number>();
  /** ((key * m + value) * 3 + kind) → count; for permissions, value is a combination number */
  readonly seen = new Map<number, number>();
  /** key → latest successful use (ms) */
  readonly lastUsed = new Map<number, number>();
  constructor(readonly m: number) {}
}

const bump = (m: Map<number, number>, k: number): void => {
  m.set(k, (m.get(k) ?? 0) + 1);
};

/** The largest `m` whose keys stay exact integers: 3·m² < 2^53. */
const MAX_REFS = 50_000_000;

/**
 * Builds the log rows of events `from`..`to` into `b` and counts them. Runs where the batch is
 * written: in the worker thread on SQLite. Lists derived from a string (a permission list split,
 * its column form, the permissions used with a resource) are made once per batch.
 */
export class EventDecoder {
  private readonly lists = new Map<number, readonly string[]>();
  private readonly columns = new Map<number, string>();
  private readonly used = new Map<number, Map<number, readonly string[]>>();
  /** A permission list and resource pair (perms * m + resource + 1) → its combination number. */
  private readonly combos = new Map<number, number>();
  private readonly comboRefs: [number, number][] = [];

  constructor(
    private readonly ev: EncodedEvents,
    private readonly clock: IsoClock,
  ) {}

  decode(b: UsageBatch, from: number, to: number): void {
    const { nums, refs, strings } = this.ev;
    const str = (i: number | undefined): string | null =>
      i === undefined || i < 0 ? null : (strings[i] ?? null);
    // Every string ref is below strings.length, every combination number below the events.
    const m = Math.max(strings.length, this.ev.n) + 1;
    if (m > MAX_REFS) throw new RangeError(`a usage batch of more than ${MAX_REFS} strings or events`);
    const counters = new RefCounters(m);
    let day = '';
    for (let i = from; i < to; i++) {
      const r = i * REFS;
      const at = nums[i * NUMS] ?? 0;
      const iso = this.clock.at(at);
      if (this.clock.day !== day) {
        // Counters are per day: a batch across midnight writes each day's apart.
        this.flush(b, counters, day);
        day = this.clock.day;
      }
      const keyRef = refs[r + R_KEY] ?? -1;
      const perms = refs[r + R_PERMS] ?? -1;
      const resource = refs[r + R_RESOURCE] ?? -1;
      const codeRef = refs[r + R_CODE] ?? -1;
      const code = str(codeRef) ?? 'MALFORMED';
      const ipRef = refs[r + R_IP] ?? -1;
      const uaRef = refs[r + R_UA] ?? -1;
      b.logs.push({
        id: newId('vl', at),
        at: iso,
        key_id: str(keyRef),
        key_start: str(refs[r + R_START]),
        environment: str(refs[r + R_ENV]) ?? 'production',
        permissions: perms < 0 ? null : this.column(perms),
        resource: str(resource),
        code,
        ip: str(ipRef),
        user_agent: str(uaRef),
        latency_us: Math.round(nums[i * NUMS + 1] ?? 0),
      });
      if (keyRef < 0 || codeRef < 0) continue;
      const k = keyRef * m;
      bump(counters.daily, k + codeRef);
      if (ipRef >= 0) bump(counters.seen, (k + ipRef) * 3 + SEEN_IP);
      if (uaRef >= 0) bump(counters.seen, (k + uaRef) * 3 + SEEN_UA);
      if (code !== 'VALID') continue;
      const last = counters.lastUsed.get(keyRef);
      if (last === undefined || last < at) counters.lastUsed.set(keyRef, at);
      if (perms >= 0) bump(counters.seen, (k + this.combo(perms, resource, m)) * 3 + SEEN_PERMISSIONS);
    }
    this.flush(b, counters, day);
  }

  /** Adds `c`'s counts of `day` into `b` under their string keys (as `countUse` makes them), and empties `c`. */
  private flush(b: UsageBatch, c: RefCounters, day: string): void {
    const s = this.ev.strings;
    const m = c.m;
    for (const [x, n] of c.daily) {
      const key = Math.floor(x / m);
      addCount(b.daily, dailyKey(s[key] ?? '', day, s[x - key * m] ?? ''), n);
    }
    for (const [x, n] of c.seen) {
      const kind = x % 3;
      const y = (x - kind) / 3;
      const key = Math.floor(y / m);
      const keyId = s[key] ?? '';
      const v = y - key * m;
      if (kind === SEEN_PERMISSIONS) {
        const [perms = -1, resource = -1] = this.comboRefs[v] ?? [];
        for (const p of this.usedList(perms, resource))
          addCount(b.seen, seenKey(keyId, day, 'permission', p), n);
      } else addCount(b.seen, seenKey(keyId, day, kind === SEEN_IP ? 'ip' : 'ua', s[v] ?? ''), n);
    }
    for (const [key, ms] of c.lastUsed) {
      const keyId = s[key] ?? '';
      const iso = new Date(ms).toISOString();
      const prev = b.lastUsed.get(keyId);
      if (prev === undefined || prev < iso) b.lastUsed.set(keyId, iso);
    }
    c.daily.clear();
    c.seen.clear();
    c.lastUsed.clear();
  }

  /** The combination number of a permission list and a resource (-1: none). */
  private combo(perms: number, resource: number, m: number): number {
    const k = perms * m + resource + 1;
    let c = this.combos.get(k);
    if (c === undefined) {
      c = this.comboRefs.length;
      this.comboRefs.push([perms, resource]);
      this.combos.set(k, c);
    }
    return c;
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

  private usedList(perms: number, resource: number): readonly string[] {
    if (resource < 0) return this.list(perms);
    let byResource = this.used.get(perms);
    if (byResource === undefined) {
      byResource = new Map();
      this.used.set(perms, byResource);
    }
    let l = byResource.get(resource);
    if (l === undefined) {
      const res = this.ev.strings[resource] ?? null;
      l = this.list(perms).map((p) => usedPermission(p, res));
      byResource.set(resource, l);
    }
    return l;
  }
}
