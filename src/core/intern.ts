/**
 * Bounded interning of values that many cache entries hold identically (a permission set, an
 * owner, an empty list): a million cached keys with a handful of distinct permission sets then
 * hold a handful of compiled sets, not a million. Values are shared between keys (and teams), so
 * they are frozen before they are handed out: see `deepFreeze`. Past `max` distinct values the
 * table starts over, and values whose key is longer than `maxKeyLength` are not kept at all, so
 * nobody can pin more than `max × maxKeyLength` characters with values built to be distinct.
 * Measurements: docs/hot-path.md#flat-shared-cache-entries.
 */
export class Interner<T> {
  private readonly table = new Map<string, T>();

  constructor(
    private readonly max: number,
    private readonly maxKeyLength: number,
  ) {}

  get(key: string, make: () => T): T {
    if (key.length > this.maxKeyLength) return make();
    let v = this.table.get(key);
    if (v === undefined) {
      if (this.table.size >= this.max) this.table.clear();
      v = make();
      this.table.set(key, v);
    }
    return v;
  }
}

/**
 * Freezes a JSON-like value and everything in it. Verification answers hand shared objects to
 * platform code (`req.keywarden.owner`, `.permissions`, `.metadata`): frozen, a handler that
 * writes to them fails loudly instead of changing what other keys, and other teams, are told.
 */
export function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
