/** A keyset page: the caller read `limit + 1` rows; the extra one only says whether more exist. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * Turns `limit + 1` rows (ordered by their cursor) into a page of at most `limit` mapped items.
 * @example toPage(rows, 50, (r) => r.id, toRecord)
 */
export function toPage<R, T>(
  rows: readonly R[],
  limit: number,
  cursorOf: (row: R) => string | number,
  map: (row: R) => T,
): Page<T> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map(map),
    nextCursor: rows.length > limit && last !== undefined ? String(cursorOf(last)) : null,
  };
}
