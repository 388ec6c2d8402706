import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Sets the credit balance of a key or an identity to `amount` unless it was already refilled since
 * `boundary` (another node won the period); true when this call refilled it.
 */
export async function refillBalance(
  db: Kysely<Database>,
  table: 'keys' | 'identities',
  id: string,
  amount: number,
  at: string,
  boundary: string,
): Promise<boolean> {
  const res = await db
    .updateTable(table)
    .set((eb) => ({ credits_remaining: amount, credits_refilled_at: at, version: eb('version', '+', 1) }))
    .where('id', '=', id)
    .where((eb) => eb.or([eb('credits_refilled_at', 'is', null), eb('credits_refilled_at', '<', boundary)]))
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}
