import type { VerificationEvent } from '../core/ports.js';
import { UsageBatcher } from '../runtime/usage/batcher.js';
import type { Storage } from '../storage/db.js';
import type { TestServer } from './harness.js';

/** Support for the usage writer's tests (runtime/usage/writer/writers.test.ts, worker-thread.test.ts). */

/** Rows per usage transaction in these tests: small, so a batch of a few thousand takes several. */
export const ROWS = 1000;
export const usageEnv = (flushMs: number): Record<string, string> => ({
  KEYWARDEN_USAGE_FLUSH_MS: String(flushMs),
  KEYWARDEN_USAGE_ROWS_PER_TRANSACTION: String(ROWS),
});
export function batcherOf(t: TestServer): UsageBatcher {
  const u = t.kw.services.ctx.usage;
  if (!(u instanceof UsageBatcher)) throw new Error('the server records usage through a UsageBatcher');
  return u;
}

/**
 * Verifications of a key in the log (the sum of its minute rows' counts: `rows` as when each was
 * a row) and in its daily counts, and its stored last use and credits.
 */
export async function written(
  s: Storage,
  keyId: string,
): Promise<{ rows: number; daily: number; lastUsedAt: string | null; credits: number | null }> {
  const rows = await s.db
    .selectFrom('verification_log')
    .select((eb) => eb.fn.sum<string | number | null>('count').as('n'))
    .where('key_id', '=', keyId)
    .executeTakeFirstOrThrow();
  const daily = await s.db
    .selectFrom('key_usage_daily')
    .select((eb) => eb.fn.sum<string | number | null>('n').as('n'))
    .where('key_id', '=', keyId)
    .executeTakeFirstOrThrow();
  const key = await s.db
    .selectFrom('keys')
    .select(['last_used_at', 'credits_remaining'])
    .where('id', '=', keyId)
    .executeTakeFirstOrThrow();
  return {
    rows: Number(rows.n ?? 0),
    daily: Number(daily.n ?? 0),
    lastUsedAt: key.last_used_at,
    credits: key.credits_remaining,
  };
}

/** `n` events of `keyId` straight into the batcher (as the verifier records them), `poison` at index `poisonAt`. */
export function recordEvents(t: TestServer, keyId: string, n: number, poisonAt = -1): void {
  const usage = batcherOf(t);
  const at = Date.now();
  for (let i = 0; i < n; i++) {
    const e: VerificationEvent = {
      at: at + Math.floor(i / 100),
      keyId,
      keyStart: 'kw_prod_test',
      environment: 'production',
      permissions: ['agents:invoke'],
      resource: i % 3 === 0 ? `agt_${i % 7}` : null,
      code: i % 5 === 0 ? 'INSUFFICIENT_PERMISSIONS' : 'VALID',
      // A distinct IP each: every event is its own row, so ROWS bounds a transaction's events too.
      ip: i === poisonAt ? 'poison' : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      userAgent: 'load/1.0',
      latencyUs: 3,
    };
    usage.record(e);
  }
}
