import { LRUCache } from 'lru-cache';
import { UNKNOWN, type CacheValue, type VerificationCache } from '../../core/ports.js';
import type { ResolvedSecret } from '../../core/verify.js';

export interface MemoryCacheOptions {
  /** Most entries kept (positive and negative together). */
  max: number;
  /** Safety net only: invalidation is explicit; the TTL bounds the damage of a missed message. */
  ttlMs: number;
  negativeTtlMs: number;
  /** The clock entries' load times were read from (the service clock). */
  now?: () => number;
}

/**
 * Bounded LRU keyed by secret hash, with an index keyId → hashes so that a change to a key
 * drops all of its secrets at once. The index is kept in step by lru-cache's dispose hook.
 */
export class MemoryVerificationCache implements VerificationCache {
  private readonly lru: LRUCache<string, ResolvedSecret>;
  /** Unknown hashes, in their own smaller LRU with its own TTL (a flood of random keys cannot evict real ones). */
  private readonly unknown: LRUCache<string, true>;
  /** keyId → its cached hash, or hashes while a rotation's grace window keeps two (no array per key). */
  private readonly byKey = new Map<string, string | string[]>();
  epoch = 0;

  constructor(private readonly opts: MemoryCacheOptions) {
    // No lru-cache TTL on positive entries: its per-get clock reads cost more than the check
    // below, which uses the load time the entry already carries.
    this.lru = new LRUCache<string, ResolvedSecret>({
      max: opts.max,
      dispose: (value, hash) => {
        this.unindex(value.id, hash);
      },
    });
    this.unknown = new LRUCache<string, true>({
      max: Math.max(1000, Math.floor(opts.max / 10)),
      ttl: opts.negativeTtlMs,
    });
  }

  get size(): number {
    return this.lru.size + this.unknown.size;
  }

  get(hash: string): CacheValue | undefined {
    const v = this.lru.get(hash);
    if (v !== undefined) {
      if ((this.opts.now ?? Date.now)() - v.loadedAtMs <= this.opts.ttlMs) return v;
      this.lru.delete(hash);
      return undefined;
    }
    return this.unknown.get(hash) === true ? UNKNOWN : undefined;
  }

  set(hash: string, value: CacheValue): void {
    if (value === UNKNOWN) {
      this.unknown.set(hash, true);
      return;
    }
    this.unknown.delete(hash);
    this.lru.set(hash, value);
    const id = value.id;
    const had = this.byKey.get(id);
    if (had === undefined) this.byKey.set(id, hash);
    else if (typeof had === 'string') {
      if (had !== hash) this.byKey.set(id, [had, hash]);
    } else if (!had.includes(hash)) had.push(hash);
  }

  invalidateKey(keyId: string): void {
    this.epoch++;
    const had = this.byKey.get(keyId);
    if (had === undefined) return;
    for (const hash of typeof had === 'string' ? [had] : [...had]) this.lru.delete(hash);
    this.byKey.delete(keyId);
  }

  invalidateHash(hash: string): void {
    this.epoch++;
    this.lru.delete(hash);
    this.unknown.delete(hash);
  }

  clear(): void {
    this.epoch++;
    this.lru.clear();
    this.unknown.clear();
    this.byKey.clear();
  }

  private unindex(keyId: string, hash: string): void {
    const had = this.byKey.get(keyId);
    if (had === undefined) return;
    if (typeof had === 'string') {
      if (had === hash) this.byKey.delete(keyId);
      return;
    }
    const i = had.indexOf(hash);
    if (i >= 0) had.splice(i, 1);
    if (had.length === 0) this.byKey.delete(keyId);
  }
}
