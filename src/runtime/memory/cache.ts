import { LRUCache } from 'lru-cache';
import { UNKNOWN, type CacheValue, type VerificationCache } from '../../core/ports.js';

export interface MemoryCacheOptions {
  /** Most entries kept (positive and negative together). */
  max: number;
  /** Safety net only: invalidation is explicit; the TTL bounds the damage of a missed message. */
  ttlMs: number;
  negativeTtlMs: number;
}

/**
 * Bounded LRU keyed by secret hash, with an index keyId → hashes so that a change to a key
 * drops all of its secrets at once. The index is kept in step by lru-cache's dispose hook.
 */
export class MemoryVerificationCache implements VerificationCache {
  private readonly lru: LRUCache<string, CacheValue>;
  private readonly byKey = new Map<string, string[]>();
  epoch = 0;

  constructor(private readonly opts: MemoryCacheOptions) {
    this.lru = new LRUCache<string, CacheValue>({
      max: opts.max,
      ttl: opts.ttlMs,
      dispose: (value, hash) => {
        if (value !== UNKNOWN) this.unindex(value.key.record.id, hash);
      },
    });
  }

  get size(): number {
    return this.lru.size;
  }

  get(hash: string): CacheValue | undefined {
    return this.lru.get(hash);
  }

  set(hash: string, value: CacheValue): void {
    if (value === UNKNOWN) {
      this.lru.set(hash, value, { ttl: this.opts.negativeTtlMs });
      return;
    }
    this.lru.set(hash, value);
    const id = value.key.record.id;
    const list = this.byKey.get(id);
    if (list === undefined) this.byKey.set(id, [hash]);
    else if (!list.includes(hash)) list.push(hash);
  }

  invalidateKey(keyId: string): void {
    this.epoch++;
    const list = this.byKey.get(keyId);
    if (list === undefined) return;
    for (const hash of [...list]) this.lru.delete(hash);
    this.byKey.delete(keyId);
  }

  invalidateHash(hash: string): void {
    this.epoch++;
    this.lru.delete(hash);
  }

  clear(): void {
    this.epoch++;
    this.lru.clear();
    this.byKey.clear();
  }

  private unindex(keyId: string, hash: string): void {
    const list = this.byKey.get(keyId);
    if (list === undefined) return;
    const i = list.indexOf(hash);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byKey.delete(keyId);
  }
}
