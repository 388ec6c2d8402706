import { newId } from '../../core/ids.js';
import type { EventSink } from '../../core/ports.js';
import type { RateLimitState } from '../../core/verify.js';
import { activeSubscriptions, insertDeliveries, takeEventMark } from '../../storage/webhooks-repo.js';
import { nowIso, type ServiceContext } from '../context.js';

export const WEBHOOK_EVENTS = [
  'key.expiring',
  'key.credits_low',
  'key.leaked',
  'key.disabled',
  'key.rate_limited',
  // A narrowing's shadow period ended with calls the narrower set would have refused.
  'key.narrowing_refused',
  // The audit chain's head, published hourly: keep it outside the database as an anchor.
  'audit.anchor',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** How long the list of subscriptions is reused before it is read again (other nodes' changes). */
const SUBSCRIPTIONS_TTL_MS = 5000;

/**
 * Event emission: an event becomes one delivery row per subscribed webhook (so several nodes and
 * restarts never lose one); the dispatcher (delivery.ts) posts them later.
 */
export class WebhookEvents implements EventSink {
  private active: { at: number; hooks: { id: string; events: string[]; team: string | null }[] } | undefined;
  private readonly rateLimitedUntil = new Map<string, number>();

  constructor(private readonly ctx: ServiceContext) {}

  /** Forgets the cached subscriptions (this node created or deleted a webhook). */
  invalidate(): void {
    this.active = undefined;
  }

  /** Queues a delivery for every active webhook subscribed to `event`. Never throws into the caller's path. */
  emit(event: WebhookEvent, data: Record<string, unknown>): void {
    this.enqueue(event, data).catch((err: unknown) => {
      this.ctx.log.warn({ err: (err as Error).message, event }, 'could not queue a webhook event');
    });
  }

  /** Emits at most once per `mark` across all nodes (the mark row is the latch). */
  async emitOnce(mark: string, event: WebhookEvent, data: Record<string, unknown>): Promise<boolean> {
    if (!(await takeEventMark(this.ctx.storage.db, mark, nowIso(this.ctx)))) return false;
    await this.enqueue(event, data);
    return true;
  }

  /** key.rate_limited at most once per key and limit window (per node). */
  rateLimited(
    keyId: string,
    name: string,
    limit: RateLimitState,
    windowSeconds: number,
    team: string | null = null,
  ): void {
    const slot = `${keyId}\u0000${limit.name}`;
    const now = this.ctx.clock.now();
    if ((this.rateLimitedUntil.get(slot) ?? 0) > now) return;
    this.rateLimitedUntil.set(slot, now + windowSeconds * 1000);
    if (this.rateLimitedUntil.size > 100_000) {
      for (const [k, until] of this.rateLimitedUntil) if (until <= now) this.rateLimitedUntil.delete(k);
    }
    this.emit('key.rate_limited', { keyId, name, ratelimit: limit.name, resetAt: limit.resetAt, team });
  }

  private async enqueue(event: WebhookEvent, data: Record<string, unknown>): Promise<void> {
    const now = this.ctx.clock.now();
    if (this.active === undefined || now - this.active.at > SUBSCRIPTIONS_TTL_MS) {
      const hooks = await activeSubscriptions(this.ctx.storage.db);
      this.active = {
        at: now,
        hooks: hooks.map((h) => ({ id: h.id, events: JSON.parse(h.events) as string[], team: h.team })),
      };
    }
    const at = new Date(now).toISOString();
    // A team's webhook receives only events about that team's keys (`data.team`); global ones, all.
    const about = typeof data.team === 'string' ? data.team : null;
    const rows = this.active.hooks
      .filter((h) => h.events.includes(event) && (h.team === null || h.team === about))
      .map((h) => {
        const id = newId('dlv', now);
        return {
          id,
          webhook_id: h.id,
          event,
          payload: JSON.stringify({ id, type: event, createdAt: at, data }),
          status: 'pending',
          attempts: 0,
          next_attempt_at: at,
          last_status_code: null,
          last_error: null,
          created_at: at,
          delivered_at: null,
        };
      });
    await insertDeliveries(this.ctx.storage.db, rows);
  }
}
