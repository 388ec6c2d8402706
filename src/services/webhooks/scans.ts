import { auditHead } from '../../storage/audit-repo.js';
import { creditedKeys, expiringKeys } from '../../storage/keys-repo.js';
import type { ServiceContext } from '../context.js';
import type { WebhookEvents } from './events.js';

const DEFAULT_CREDITS_LOW = 10;

/**
 * Job: publishes the audit chain's head as an `audit.anchor` event, once an hour across all
 * nodes (the hour is the once-only mark). A receiver that keeps these heads can later detect a
 * truncated log with `GET /v1/audit/verify?anchor=<seq>:<hash>`.
 */
export async function publishAuditAnchor(ctx: ServiceContext, events: WebhookEvents): Promise<number> {
  const hour = new Date(ctx.clock.now()).toISOString().slice(0, 13);
  const head = await auditHead(ctx.storage.db);
  if (head.seq === 0) return 0;
  return (await events.emitOnce(`audit.anchor:${hour}`, 'audit.anchor', { ...head })) ? 1 : 0;
}

/** Job: keys expiring within the warning window (once per key and expiry) and keys low on credits (once per refill period). */
export async function scanEvents(
  ctx: ServiceContext,
  events: WebhookEvents,
  rotationWarningDays: number,
): Promise<number> {
  const now = ctx.clock.now();
  const at = new Date(now).toISOString();
  const horizon = new Date(now + rotationWarningDays * 86_400_000).toISOString();
  const { db } = ctx.storage;
  let n = 0;
  for (const k of await expiringKeys(db, at, horizon)) {
    if (
      await events.emitOnce(`key.expiring:${k.id}:${k.expires_at ?? ''}`, 'key.expiring', {
        keyId: k.id,
        name: k.name,
        environment: k.environment,
        expiresAt: k.expires_at,
        team: k.owner_team,
      })
    )
      n++;
  }
  for (const k of await creditedKeys(db)) {
    const meta = JSON.parse(k.metadata) as { creditsLowThreshold?: unknown };
    const threshold =
      typeof meta.creditsLowThreshold === 'number' ? meta.creditsLowThreshold : DEFAULT_CREDITS_LOW;
    if ((k.credits_remaining ?? 0) > threshold) continue;
    const mark = `key.credits_low:${k.id}:${k.credits_refilled_at ?? 'initial'}`;
    if (
      await events.emitOnce(mark, 'key.credits_low', {
        keyId: k.id,
        name: k.name,
        environment: k.environment,
        remaining: k.credits_remaining,
        threshold,
        team: k.owner_team,
      })
    )
      n++;
  }
  return n;
}
