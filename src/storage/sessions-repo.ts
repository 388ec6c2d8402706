import type { Insertable, Kysely, Selectable } from 'kysely';
import type { ConsoleSessionsTable, Database } from './schema.js';

type Db = Kysely<Database>;
export type SessionRow = Selectable<ConsoleSessionsTable>;

/** Console sessions: the database keeps only hashes of the session token and its CSRF token. */
export async function insertSession(db: Db, row: Insertable<ConsoleSessionsTable>): Promise<void> {
  await db.insertInto('console_sessions').values(row).execute();
}

/** The session whose token hashes to `tokenHash` (ended or not); undefined when there is none. */
export async function findSessionByTokenHash(db: Db, tokenHash: string): Promise<SessionRow | undefined> {
  return db.selectFrom('console_sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

/** Records a request on the session (written at most once a minute by the caller). */
export async function touchSession(db: Db, id: string, at: string): Promise<void> {
  await db.updateTable('console_sessions').set({ last_seen_at: at }).where('id', '=', id).execute();
}

/** Ends the session whose token hashes to `tokenHash` (sign-out); no-op when there is none. */
export async function endSessionByTokenHash(db: Db, tokenHash: string, at: string): Promise<void> {
  await db
    .updateTable('console_sessions')
    .set({ ended_at: at })
    .where('token_hash', '=', tokenHash)
    .execute();
}
