import type { Insertable, Kysely, Selectable } from 'kysely';
import type { Database, MailDeliveriesTable } from './schema.js';

type Db = Kysely<Database>;
export type MailRow = Selectable<MailDeliveriesTable>;

export async function insertMail(db: Db, row: Insertable<MailDeliveriesTable>): Promise<void> {
  await db.insertInto('mail_deliveries').values(row).execute();
}

/** Pending mail due at `at`, oldest first. */
export async function dueMail(db: Db, at: string, limit: number): Promise<MailRow[]> {
  return db
    .selectFrom('mail_deliveries')
    .selectAll()
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', at)
    .orderBy('id')
    .limit(limit)
    .execute();
}

/**
 * Claims a due message for one attempt: moves its next attempt to `leaseUntil` only if no other
 * node did since it was read (so two nodes never send one message at once). True for the winner.
 */
export async function claimMail(db: Db, id: string, dueAt: string, leaseUntil: string): Promise<boolean> {
  const r = await db
    .updateTable('mail_deliveries')
    .set({ next_attempt_at: leaseUntil })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '=', dueAt)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function recordMailAttempt(
  db: Db,
  id: string,
  outcome: Pick<
    MailDeliveriesTable,
    'status' | 'attempts' | 'last_error' | 'delivered_at' | 'next_attempt_at'
  >,
): Promise<void> {
  await db.updateTable('mail_deliveries').set(outcome).where('id', '=', id).execute();
}

/** A page of the mail delivery log, newest first, below `cursor`; only `team`'s rows when it is not null. */
export async function listMail(
  db: Db,
  team: string | null,
  take: number,
  cursor?: string,
): Promise<MailRow[]> {
  let q = db.selectFrom('mail_deliveries').selectAll();
  if (team !== null) q = q.where('team', '=', team);
  if (cursor !== undefined) q = q.where('id', '<', cursor);
  return q.orderBy('id', 'desc').limit(take).execute();
}

/** Live keys whose owner contact is set, with what owner mail says about them. */
export async function contactKeys(db: Db): Promise<
  {
    id: string;
    name: string;
    environment: string;
    owner_team: string | null;
    owner_contact: string | null;
    expires_at: string | null;
    credits_remaining: number | null;
    credits_refilled_at: string | null;
    metadata: string;
  }[]
> {
  return db
    .selectFrom('keys')
    .select([
      'id',
      'name',
      'environment',
      'owner_team',
      'owner_contact',
      'expires_at',
      'credits_remaining',
      'credits_refilled_at',
      'metadata',
    ])
    .where('status', '=', 'active')
    .where('owner_contact', 'is not', null)
    .execute();
}
