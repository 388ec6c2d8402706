import type { Insertable, Kysely, Selectable } from 'kysely';
import type { Database, WebhookDeliveriesTable, WebhooksTable } from './schema.js';

type Db = Kysely<Database>;
export type WebhookRow = Selectable<WebhooksTable>;
export type DeliveryRow = Selectable<WebhookDeliveriesTable>;

export async function insertWebhook(db: Db, row: Insertable<WebhooksTable>): Promise<void> {
  await db.insertInto('webhooks').values(row).execute();
}

/** Active webhooks, newest first; only `team`'s when it is not null. */
export async function listActiveWebhooks(db: Db, team: string | null): Promise<WebhookRow[]> {
  let q = db.selectFrom('webhooks').selectAll().where('status', '=', 'active');
  if (team !== null) q = q.where('team', '=', team);
  return q.orderBy('id', 'desc').execute();
}

/** Marks an active webhook deleted (only within `team` when it is not null); false when there was none. */
export async function deleteWebhook(db: Db, id: string, team: string | null): Promise<boolean> {
  let u = db.updateTable('webhooks').set({ status: 'deleted' }).where('id', '=', id);
  if (team !== null) u = u.where('team', '=', team);
  const r = await u.where('status', '=', 'active').executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** The team of a webhook (any status); undefined when there is no such webhook. */
export async function webhookTeam(db: Db, id: string): Promise<string | null | undefined> {
  const row = await db.selectFrom('webhooks').select('team').where('id', '=', id).executeTakeFirst();
  return row?.team;
}

/** What an event is matched against: every active webhook's id, events (JSON) and team. */
export async function activeSubscriptions(
  db: Db,
): Promise<{ id: string; events: string; team: string | null }[]> {
  return db.selectFrom('webhooks').select(['id', 'events', 'team']).where('status', '=', 'active').execute();
}

/** A page of a webhook's deliveries, newest first, below `cursor`; `take` rows at most. */
export async function listDeliveries(
  db: Db,
  webhookId: string,
  take: number,
  cursor?: string,
): Promise<DeliveryRow[]> {
  let q = db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId);
  if (cursor !== undefined) q = q.where('id', '<', cursor);
  return q.orderBy('id', 'desc').limit(take).execute();
}

export async function insertDeliveries(db: Db, rows: Insertable<WebhookDeliveriesTable>[]): Promise<void> {
  if (rows.length > 0) await db.insertInto('webhook_deliveries').values(rows).execute();
}

export interface DueDelivery {
  id: string;
  payload: string;
  attempts: number;
  event: string;
  webhook_id: string;
  url: string;
  /** The webhook's stored (sealed) signing secret. */
  secret: string;
}

/** Pending deliveries due at `at`, oldest first, with their webhook's URL and secret. */
export async function dueDeliveries(db: Db, at: string, limit: number): Promise<DueDelivery[]> {
  return db
    .selectFrom('webhook_deliveries')
    .innerJoin('webhooks', 'webhooks.id', 'webhook_deliveries.webhook_id')
    .select([
      'webhook_deliveries.id',
      'webhook_deliveries.payload',
      'webhook_deliveries.attempts',
      'webhook_deliveries.event',
      'webhooks.id as webhook_id',
      'webhooks.url',
      'webhooks.secret',
    ])
    .where('webhook_deliveries.status', '=', 'pending')
    .where('webhook_deliveries.next_attempt_at', '<=', at)
    .orderBy('webhook_deliveries.id')
    .limit(limit)
    .execute();
}

/** Stores the outcome of one attempt. */
export async function recordAttempt(
  db: Db,
  id: string,
  outcome: Pick<
    WebhookDeliveriesTable,
    'status' | 'attempts' | 'last_status_code' | 'last_error' | 'delivered_at' | 'next_attempt_at'
  >,
): Promise<void> {
  await db.updateTable('webhook_deliveries').set(outcome).where('id', '=', id).execute();
}

/** Takes the once-only `mark`: true for the first caller across all nodes, false afterwards. */
export async function takeEventMark(db: Db, mark: string, at: string): Promise<boolean> {
  const r = await db
    .insertInto('event_marks')
    .values({ mark, created_at: at })
    .onConflict((oc) => oc.column('mark').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
}
