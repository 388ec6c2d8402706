import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { inLogIdRange } from './usage-repo.js';

type Db = Kysely<Database>;

/** Keys with a narrowing (any state), with what the end-of-period job and the report need. */
export async function keysWithNarrowing(db: Db): Promise<
  {
    id: string;
    name: string;
    environment: string;
    owner_team: string | null;
    owner_contact: string | null;
    status: string;
    permissions: string;
    narrowing: string;
    version: number;
  }[]
> {
  const rows = await db
    .selectFrom('keys')
    .select([
      'id',
      'name',
      'environment',
      'owner_team',
      'owner_contact',
      'status',
      'permissions',
      'narrowing',
      'version',
    ])
    .where('narrowing', 'is not', null)
    .where('status', '<>', 'deleted')
    .execute();
  return rows.flatMap((r) => (r.narrowing === null ? [] : [{ ...r, narrowing: r.narrowing }]));
}

export interface ShadowExample {
  at: string;
  lastAt: string;
  permission: string | null;
  resource: string | null;
  ip: string | null;
  userAgent: string | null;
  environment: string;
  count: number;
}

/**
 * The calls a key's narrowing would have refused from `fromIso` to `toIso` (log rows marked
 * shadow): their total, and the newest `take` rows as examples.
 */
export async function shadowRefusals(
  db: Db,
  keyId: string,
  fromIso: string,
  toIso: string,
  take: number,
): Promise<{ total: number; examples: ShadowExample[] }> {
  // The window as ids too: the shadow index's range (usage-repo.ts `inLogIdRange`).
  const base = inLogIdRange(db.selectFrom('verification_log'), fromIso, toIso)
    .where('shadow', '=', 1)
    .where('key_id', '=', keyId)
    .where('at', '>=', fromIso)
    .where('at', '<', toIso);
  const sum = await base
    .select((eb) => eb.fn.sum<string | number | null>('count').as('n'))
    .executeTakeFirst();
  const rows = await base
    .select(['at', 'last_at', 'permissions', 'resource', 'ip', 'user_agent', 'environment', 'count'])
    .orderBy('id', 'desc')
    .limit(take)
    .execute();
  return {
    total: Number(sum?.n ?? 0),
    examples: rows.map((r) => ({
      at: r.at,
      lastAt: r.last_at ?? r.at,
      permission: r.permissions,
      resource: r.resource,
      ip: r.ip,
      userAgent: r.user_agent,
      environment: r.environment,
      count: r.count,
    })),
  };
}
