import type { Kysely } from 'kysely';
import type { UsageFacts } from '../core/governance.js';
import type { Database } from './schema.js';
import { inLogIdRange } from './usage-repo.js';

type Db = Kysely<Database>;

/** Teams that have at least one active, unexpired admin key. */
export async function activeAdminTeams(db: Db, nowIso: string): Promise<Set<string>> {
  const rows = await db
    .selectFrom('admin_keys')
    .select('team')
    .distinct()
    .where('status', '=', 'active')
    .where('team', 'is not', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowIso)]))
    .execute();
  return new Set(rows.flatMap((r) => (r.team === null ? [] : [r.team])));
}

/** Usage over the window starting at `sinceDay` (YYYY-MM-DD) / `sinceIso`, aggregated in SQL. */
export async function usageFacts(db: Db, sinceDay: string, sinceIso: string): Promise<UsageFacts> {
  const perms = await db
    .selectFrom('key_usage_seen')
    .select(['key_id', 'value'])
    .distinct()
    .where('kind', '=', 'permission')
    .where('day', '>=', sinceDay)
    .execute();
  const usedPermissions = new Map<string, string[]>();
  for (const r of perms) usedPermissions.set(r.key_id, [...(usedPermissions.get(r.key_id) ?? []), r.value]);

  const perDay = await db
    .selectFrom('key_usage_seen')
    .select(['key_id', 'day', 'kind', (eb) => eb.fn.countAll<string | number>().as('n')])
    .where('kind', 'in', ['ip', 'ua'])
    .where('day', '>=', sinceDay)
    .groupBy(['key_id', 'day', 'kind'])
    .execute();
  const days = new Map<string, { day: string; ips: number; userAgents: number }>();
  for (const r of perDay) {
    const k = `${r.key_id}\u0000${r.day}`;
    const d = days.get(k) ?? { day: r.day, ips: 0, userAgents: 0 };
    if (r.kind === 'ip') d.ips = Number(r.n);
    else d.userAgents = Number(r.n);
    days.set(k, d);
  }
  const busiestDay = new Map<string, { day: string; ips: number; userAgents: number }>();
  for (const [k, d] of days) {
    const id = k.split('\u0000')[0] ?? '';
    const cur = busiestDay.get(id);
    if (cur === undefined || Math.max(d.ips, d.userAgents) > Math.max(cur.ips, cur.userAgents))
      busiestDay.set(id, d);
  }

  // The window as ids too: the code index's range.
  const mism = await inLogIdRange(db.selectFrom('verification_log'), sinceIso)
    // Minute rows: the calls are the sum of their counts, the last one their latest last call.
    .select([
      'key_id',
      (eb) => eb.fn.sum<string | number>('count').as('n'),
      (eb) => eb.fn.max(eb.fn.coalesce('last_at', 'at')).as('last'),
    ])
    .where('code', '=', 'ENVIRONMENT_MISMATCH')
    .where('code', '<>', 'VALID') // the predicate of the code index (migration 0006)
    .where('environment', '=', 'production')
    // A shadow row (a narrowing's would-have-refused call) was not refused: it is no real outcome.
    .where('shadow', '=', 0)
    .where('key_id', 'is not', null)
    .where('at', '>=', sinceIso)
    .groupBy('key_id')
    .execute();
  const productionMismatches = new Map<string, { count: number; lastAt: string }>();
  for (const r of mism)
    if (r.key_id !== null) productionMismatches.set(r.key_id, { count: Number(r.n), lastAt: r.last });
  return { usedPermissions, busiestDay, productionMismatches };
}
