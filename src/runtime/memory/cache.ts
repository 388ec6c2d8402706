import { digestOfHash } from '../../core/keys.js';
import { UNKNOWN, type CacheValue, type VerificationCache } from '../../core/ports.js';
import type { ResolvedSecret } from '../../core/verify.js';
import { DigestIndex } from './digest-index.js';

export interface MemoryCacheOptions {
  /** Most key entries kept (unknown hashes are kept apart, up to a tenth of this, at least 1,000). */
  max: number;
  /** Safety net only: invalidation is explicit; the TTL bounds the damage of a missed message. */
  ttlMs: number;
  negativeTtlMs: number;
  /** The clock entries' load times were read from (the service clock). */
  now?: () => number;
}

/**
 * Bounded cache of verification entries keyed by the key's digest (see DigestIndex: typed arrays,
 * CLOCK eviction), with an index keyId → entries so that a change to a key drops all of its
 * secrets at once. Unknown digests live in a second, smaller index with its own TTL, so a flood
 * of random keys cannot evict real ones. Design reasons and measurements: docs/hot-path.md
 * (#digest-index, #flat-shared-cache-entries).
 */
export class MemoryVerificationCache implements VerificationCache {
  private readonly known: DigestIndex;
  /** Entry number → its entry (numbers come from `known`). */
  private entries: (ResolvedSecret | undefined)[] = [];
  private readonly unknown: DigestIndex;
  /** Entry number in `unknown` → when it was found unknown. */
  private unknownAt: number[] = [];
  /**
   * keyId (or identity id) → its entry number, or numbers while a rotation's grace window keeps two
   * or an identity has several keys (no array per key).
   */
  private readonly byKey = new Map<string, number | number[]>();
  epoch = 0;
  /** Entries loaded before this time count as expired (`expireAll`). */
  private expiredAt = -Infinity;

  constructor(private readonly opts: MemoryCacheOptions) {
    this.known = new DigestIndex(opts.max);
    this.unknown = new DigestIndex(Math.max(1000, Math.floor(opts.max / 10)));
  }

  get size(): number {
    return this.known.size + this.unknown.size;
  }

  lookup(digest: string, nowMs: number): CacheValue | undefined {
    const e = this.known.find(digest);
    if (e >= 0) {
      const v = this.entries[e];
      // The TTL is checked against the load time the entry carries (no clock read of its own).
      if (v !== undefined && nowMs - v.loadedAtMs <= this.opts.ttlMs && v.loadedAtMs >= this.expiredAt)
        return v;
      // An expired entry stays (until replaced, invalidated or evicted) as the last known state
      // for a storage outage; the caller re-reads it.
      if (v === undefined) this.drop(e);
      return undefined;
    }
    const u = this.unknown.find(digest);
    if (u < 0) return undefined;
    if (nowMs - (this.unknownAt[u] ?? 0) <= this.opts.negativeTtlMs) return UNKNOWN;
    this.unknown.remove(u);
    return undefined;
  }

  lastKnown(digest: string): ResolvedSecret | undefined {
    const e = this.known.find(digest);
    return e >= 0 ? this.entries[e] : undefined;
  }

  get(hash: string): CacheValue | undefined {
    const d = digestOfHash(hash);
    return d === undefined ? undefined : this.lookup(d, (this.opts.now ?? Date.now)());
  }

  set(hash: string, value: CacheValue): void {
    const d = digestOfHash(hash);
    // Every hasher makes the base64url of 32 bytes; anything else is a bug, not a key to cache.
    if (d === undefined) throw new TypeError('not a key hash (base64url of a 32-byte digest)');
    if (value === UNKNOWN) {
      let u = this.unknown.find(d);
      if (u < 0) {
        if (this.unknown.size >= this.unknown.capacity) this.unknown.evict();
        u = this.unknown.insert(d);
      }
      this.unknownAt[u] = (this.opts.now ?? Date.now)();
      return;
    }
    this.unknown.remove(this.unknown.peek(d));
    let e = this.known.find(d);
    if (e >= 0) {
      const old = this.entries[e];
      if (old !== undefined) this.unindexEntry(old, e);
      this.entries[e] = value;
      this.indexEntry(value, e);
      return;
    }
    if (this.known.size >= this.known.capacity) {
      const victim = this.known.evict();
      this.forget(victim);
    }
    e = this.known.insert(d);
    this.entries[e] = value;
    this.indexEntry(value, e);
  }

  invalidateKey(keyId: string): void {
    this.epoch++;
    const had = this.byKey.get(keyId);
    if (had === undefined) return;
    this.byKey.delete(keyId);
    for (const e of typeof had === 'number' ? [had] : had) {
      const v = this.entries[e];
      this.known.remove(e);
      this.entries[e] = undefined;
      // An entry is indexed under its key and its identity: drop it from the other one too.
      if (v !== undefined) this.unindexEntry(v, e);
    }
  }

  invalidateHash(hash: string): void {
    this.epoch++;
    const d = digestOfHash(hash);
    if (d === undefined) return;
    const e = this.known.peek(d);
    if (e >= 0) this.drop(e);
    this.unknown.remove(this.unknown.peek(d));
  }

  expireAll(nowMs: number): void {
    this.epoch++;
    this.expiredAt = Math.max(this.expiredAt, nowMs);
    this.unknown.clear();
    this.unknownAt = [];
  }

  clear(): void {
    this.epoch++;
    this.known.clear();
    this.unknown.clear();
    this.entries = [];
    this.unknownAt = [];
    this.byKey.clear();
  }

  /** Removes entry `e` from the index, then forgets it. */
  private drop(e: number): void {
    this.known.remove(e);
    this.forget(e);
  }

  /** Forgets what is kept for entry `e` (already out of the index). */
  private forget(e: number): void {
    const v = this.entries[e];
    this.entries[e] = undefined;
    if (v !== undefined) this.unindexEntry(v, e);
  }

  /**
   * An entry is indexed by its key's id and, when the key has an identity, by the identity's id:
   * a change to the identity (limits, balance, deletion) drops the entries of all of its keys
   * with one `invalidateKey(identityId)` (and one bus message to the other nodes).
   */
  private indexEntry(v: ResolvedSecret, e: number): void {
    this.index(v.id, e);
    if (v.identity !== null) this.index(v.identity.id, e);
  }

  private unindexEntry(v: ResolvedSecret, e: number): void {
    this.unindex(v.id, e);
    if (v.identity !== null) this.unindex(v.identity.id, e);
  }

  private index(keyId: string, e: number): void {
    const had = this.byKey.get(keyId);
    if (had === undefined) this.byKey.set(keyId, e);
    else if (typeof had === 'number') {
      if (had !== e) this.byKey.set(keyId, [had, e]);
    } else if (!had.includes(e)) had.push(e);
  }

  private unindex(keyId: string, e: number): void {
    const had = this.byKey.get(keyId);
    if (had === undefined) return;
    if (typeof had === 'number') {
      if (had === e) this.byKey.delete(keyId);
      return;
    }
    const i = had.indexOf(e);
    if (i >= 0) had.splice(i, 1);
    const [only] = had;
    if (only === undefined) this.byKey.delete(keyId);
    else if (had.length === 1) this.byKey.set(keyId, only);
  }
}
