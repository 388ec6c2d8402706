import type { VerificationEvent } from '../../core/ports.js';
import { UA_MAX } from './minutes.js';

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
export const R_KEY = 0;
export const R_START = 1;
/** One permission as itself, several joined with NUL (-1: none). */
export const R_PERMS = 2;
export const R_RESOURCE = 3;
export const R_IP = 4;
export const R_UA = 5;
export const R_CODE = 6;
export const R_ENV = 7;
/**
 * A VALID call's key grants, joined with NUL (-1: another outcome). Grouped on like the others:
 * calls of a key whose permissions changed within the batch count under the grants they had.
 */
export const R_GRANTS = 8;

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
