/**
 * Bounded interning of values that many cache entries hold identically (a permission set, an
 * owner, an empty list): a million cached keys with a handful of distinct permission sets then
 * hold a handful of compiled sets, not a million. Values are shared, so callers must not mutate
 * them (nothing does: cache entries are read-only). Past `max` distinct values the table starts
 * over, so a store of all-distinct values costs no more than before.
 */
export class Interner<T> {
  private readonly table = new Map<string, T>();

  constructor(private readonly max: number) {}

  get(key: string, make: () => T): T {
    let v = this.table.get(key);
    if (v === undefined) {
      if (this.table.size >= this.max) this.table.clear();
      v = make();
      this.table.set(key, v);
    }
    return v;
  }
}
