import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export async function getMeta(db: Kysely<Database>, name: string): Promise<string | undefined> {
  const r = await db.selectFrom('meta').select('value').where('name', '=', name).executeTakeFirst();
  return r?.value;
}

/** Inserts only; returns false when the name exists (used as a once-only latch, e.g. `initialized`). */
export async function insertMeta(db: Kysely<Database>, name: string, value: string): Promise<boolean> {
  const r = await db
    .insertInto('meta')
    .values({ name, value })
    .onConflict((oc) => oc.column('name').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function putMeta(db: Kysely<Database>, name: string, value: string): Promise<void> {
  await db
    .insertInto('meta')
    .values({ name, value })
    .onConflict((oc) => oc.column('name').doUpdateSet({ value }))
    .execute();
}

/** Every meta row whose name starts with `prefix` (a range scan: no LIKE, so `%` and `_` in names are literal). */
export async function listMetaPrefix(db: Kysely<Database>, prefix: string): Promise<[string, string][]> {
  const last = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const rows = await db
    .selectFrom('meta')
    .select(['name', 'value'])
    .where('name', '>=', prefix)
    .where('name', '<', last)
    .execute();
  return rows.map((r) => [r.name, r.value]);
}
