import { createHmac } from 'node:crypto';
import { toPage } from '../core/page.js';
import type { Kysely } from 'kysely';
import { KeywardenError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { randomBase62 } from '../core/keys.js';
import type { Actor } from '../core/model.js';
import type { EventSink } from '../core/ports.js';
import type { RateLimitState } from '../core/verify.js';
import type { Database } from '../storage/schema.js';
import { appendAudit, auditHead } from '../storage/audit-repo.js';
import { isSealed, seal, unseal } from '../core/secrets.js';
import { nowIso, type ServiceContext } from './context.js';
import { checkTarget, coarseError, postDelivery, systemResolve, type Resolve } from './webhook-transport.js';

export const WEBHOOK_EVENTS = [
  'key.expiring',
  'key.credits_low',
  'key.leaked',
  'key.disabled',
  'key.rate_limited',
  // The audit chain's head, published hourly: keep it outside the database as an anchor.
  'audit.anchor',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface WebhookRecord {
  id: string;
  url: string;
  description: string | null;
  events: WebhookEvent[];
  status: string;
  createdAt: string;
  createdBy: string | null;
  /** The team of the admin key that created it (it receives only that team's events); null: global. */
  team: string | null;
}

/** Rows a team-scoped actor may see: its team's webhooks only. */
const visibleTo = (actor: Actor): string | null => actor.team;

/** Attempts before a delivery is given up (about 2 minutes of backoff at the default base). */
export const MAX_ATTEMPTS = 8;
const DEFAULT_CREDITS_LOW = 10;

/**
 * `Keywarden-Signature: t=<unix seconds>,v1=<hex HMAC-SHA-256 of "<t>.<body>">`, as Stripe does:
 * the timestamp in the signed text lets receivers refuse replays older than a few minutes.
 */
export function signPayload(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

/**
 * Webhooks: admins subscribe URLs to key events; events become delivery rows (so several nodes
 * and restarts never lose one); a dispatcher posts them, signed, retrying with exponential backoff.
 */
export class WebhookService implements EventSink {
  private timer: NodeJS.Timeout | undefined;
  private active: { at: number; hooks: { id: string; events: string[]; team: string | null }[] } | undefined;
  private readonly rateLimitedUntil = new Map<string, number>();
  private dispatching: Promise<number> = Promise.resolve(0);

  constructor(
    private readonly ctx: ServiceContext,
    private readonly opts: {
      retryBaseMs: number;
      timeoutMs: number;
      /** AES-256-GCM key of the signing secrets at rest (derived from the server secret). */
      secretsKey: Buffer;
      /** KEYWARDEN_WEBHOOK_ALLOW_PRIVATE: targets on loopback/private/link-local addresses pass. */
      allowPrivateTargets: boolean;
      /** DNS for target checks (tests stand in for it). */
      resolve?: Resolve;
    },
  ) {}

  private get targets(): { allowPrivate: boolean; resolve: Resolve } {
    return { allowPrivate: this.opts.allowPrivateTargets, resolve: this.opts.resolve ?? systemResolve };
  }

  /** The signing secret of a stored row: sealed with the derived key, or plaintext from before encryption. */
  private openSecret(webhookId: string, stored: string): string {
    return isSealed(stored) ? unseal(this.opts.secretsKey, stored, webhookId) : stored;
  }

  private get db(): Kysely<Database> {
    return this.ctx.storage.db;
  }

  async create(
    actor: Actor,
    input: { url: string; events: WebhookEvent[]; description?: string | undefined },
  ): Promise<{ secret: string; record: WebhookRecord }> {
    let url: URL;
    try {
      url = new URL(input.url);
    } catch {
      throw new KeywardenError('VALIDATION_FAILED', `url "${input.url}" is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new KeywardenError('VALIDATION_FAILED', `url must be http(s), got ${url.protocol}`);
    }
    if (url.username !== '' || url.password !== '') {
      throw new KeywardenError('VALIDATION_FAILED', 'url must not carry credentials (user:password@)');
    }
    await checkTarget(url, this.targets);
    const at = nowIso(this.ctx);
    const secret = `whsec_${randomBase62(32)}`;
    const record: WebhookRecord = {
      id: newId('whk', this.ctx.clock.now()),
      url: url.toString(),
      description: input.description ?? null,
      events: [...new Set(input.events)],
      status: 'active',
      createdAt: at,
      createdBy: actor.id,
      team: actor.team,
    };
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('webhooks')
        .values({
          id: record.id,
          url: record.url,
          description: record.description,
          events: JSON.stringify(record.events),
          // Encrypted at rest, bound to this row: shown once in this response, opened only to sign.
          secret: seal(this.opts.secretsKey, secret, record.id),
          status: 'active',
          created_at: at,
          created_by: actor.id,
          team: actor.team,
        })
        .execute();
      await appendAudit(trx, {
        at,
        actor: actor.id,
        action: 'webhook.create',
        target: record.id,
        before: null,
        after: record,
        ip: actor.ip,
        team: actor.team,
      });
    });
    this.active = undefined;
    return { secret, record };
  }

  async list(actor: Actor): Promise<WebhookRecord[]> {
    let q = this.db.selectFrom('webhooks').selectAll().where('status', '=', 'active');
    const team = visibleTo(actor);
    if (team !== null) q = q.where('team', '=', team);
    const rows = await q.orderBy('id', 'desc').execute();
    return rows.map((r) => ({
      id: r.id,
      url: r.url,
      description: r.description,
      events: JSON.parse(r.events) as WebhookEvent[],
      status: r.status,
      createdAt: r.created_at,
      createdBy: r.created_by,
      team: r.team,
    }));
  }

  async remove(actor: Actor, id: string): Promise<void> {
    const at = nowIso(this.ctx);
    const team = visibleTo(actor);
    await this.db.transaction().execute(async (trx) => {
      let u = trx.updateTable('webhooks').set({ status: 'deleted' }).where('id', '=', id);
      if (team !== null) u = u.where('team', '=', team);
      const r = await u.where('status', '=', 'active').executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw new KeywardenError('NOT_FOUND', `no webhook with id ${id}`);
      await appendAudit(trx, {
        at,
        actor: actor.id,
        action: 'webhook.delete',
        target: id,
        before: null,
        after: null,
        ip: actor.ip,
        team: actor.team,
      });
    });
    this.active = undefined;
  }

  async deliveries(actor: Actor, id: string, limit: number, cursor?: string) {
    const team = visibleTo(actor);
    if (team !== null) {
      const hook = await this.db
        .selectFrom('webhooks')
        .select('team')
        .where('id', '=', id)
        .executeTakeFirst();
      if (hook?.team !== team) throw new KeywardenError('NOT_FOUND', `no webhook with id ${id}`);
    }
    let q = this.db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', id);
    if (cursor !== undefined) q = q.where('id', '<', cursor);
    const rows = await q
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    return toPage(
      rows,
      limit,
      (r) => r.id,
      (r) => ({
        id: r.id,
        event: r.event,
        status: r.status,
        attempts: r.attempts,
        nextAttemptAt: r.status === 'pending' ? r.next_attempt_at : null,
        lastStatusCode: r.last_status_code,
        lastError: coarseError(r.last_error, r.last_status_code),
        createdAt: r.created_at,
        deliveredAt: r.delivered_at,
        payload: JSON.parse(r.payload) as unknown,
      }),
    );
  }

  /** Queues a delivery for every active webhook subscribed to `event`. Never throws into the caller's path. */
  emit(event: WebhookEvent, data: Record<string, unknown>): void {
    this.enqueue(event, data).catch((err: unknown) => {
      this.ctx.log.warn({ err: (err as Error).message, event }, 'could not queue a webhook event');
    });
  }

  /** Emits at most once per `mark` across all nodes (the mark row is the latch). */
  async emitOnce(mark: string, event: WebhookEvent, data: Record<string, unknown>): Promise<boolean> {
    const r = await this.db
      .insertInto('event_marks')
      .values({ mark, created_at: nowIso(this.ctx) })
      .onConflict((oc) => oc.column('mark').doNothing())
      .executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0) !== 1) return false;
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
    if (this.active === undefined || now - this.active.at > 5000) {
      const hooks = await this.db
        .selectFrom('webhooks')
        .select(['id', 'events', 'team'])
        .where('status', '=', 'active')
        .execute();
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
    if (rows.length > 0) await this.db.insertInto('webhook_deliveries').values(rows).execute();
  }

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => {
      void this.deliverDue();
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  /** Posts every due delivery once; returns how many succeeded. Runs are serialised. */
  deliverDue(): Promise<number> {
    this.dispatching = this.dispatching.then(() => this.deliverOnce()).catch(() => 0);
    return this.dispatching;
  }

  private async deliverOnce(): Promise<number> {
    const now = this.ctx.clock.now();
    const at = new Date(now).toISOString();
    const due = await this.db
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
      .limit(100)
      .execute();
    let ok = 0;
    for (const d of due) {
      const attempts = d.attempts + 1;
      let code: number | null = null;
      let error: string | null = null;
      try {
        const outcome = await postDelivery(
          d.url,
          {
            'content-type': 'application/json',
            'user-agent': 'Keywarden-Webhooks/1',
            'keywarden-event': d.event,
            'keywarden-delivery': d.id,
            'keywarden-signature': signPayload(
              this.openSecret(d.webhook_id, d.secret),
              d.payload,
              Math.floor(now / 1000),
            ),
          },
          d.payload,
          { ...this.targets, timeoutMs: this.opts.timeoutMs },
        );
        code = outcome.statusCode;
        error = outcome.error;
      } catch (err) {
        // A secret that no longer opens (another server secret) or an unexpected failure: the
        // delivery log gets a category, the operator's log the reason.
        this.ctx.log.warn({ err: (err as Error).message, delivery: d.id }, 'webhook delivery failed');
        error = 'internal_error';
      }
      const done = error === null;
      if (done) ok++;
      const giveUp = !done && attempts >= MAX_ATTEMPTS;
      await this.db
        .updateTable('webhook_deliveries')
        .set({
          status: done ? 'succeeded' : giveUp ? 'failed' : 'pending',
          attempts,
          last_status_code: code,
          last_error: error,
          delivered_at: done ? at : null,
          next_attempt_at: new Date(
            now + Math.min(this.opts.retryBaseMs * 2 ** (attempts - 1), 3_600_000),
          ).toISOString(),
        })
        .where('id', '=', d.id)
        .execute();
      this.ctx.metrics.jobRuns.labels('webhook_delivery', done ? 'ok' : giveUp ? 'failed' : 'retry').inc();
    }
    return ok;
  }

  /**
   * Job: publishes the audit chain's head as an `audit.anchor` event, once an hour across all
   * nodes (the hour is the once-only mark). A receiver that keeps these heads can later detect a
   * truncated log with `GET /v1/audit/verify?anchor=<seq>:<hash>`.
   */
  async publishAuditAnchor(): Promise<number> {
    const hour = new Date(this.ctx.clock.now()).toISOString().slice(0, 13);
    const head = await auditHead(this.db);
    if (head.seq === 0) return 0;
    return (await this.emitOnce(`audit.anchor:${hour}`, 'audit.anchor', { ...head })) ? 1 : 0;
  }

  /** Job: keys expiring within the warning window (once per key and expiry) and keys low on credits (once per refill period). */
  async scanEvents(rotationWarningDays: number): Promise<number> {
    const now = this.ctx.clock.now();
    const at = new Date(now).toISOString();
    const horizon = new Date(now + rotationWarningDays * 86_400_000).toISOString();
    let n = 0;
    const expiring = await this.db
      .selectFrom('keys')
      .select(['id', 'name', 'environment', 'expires_at', 'owner_team'])
      .where('status', '=', 'active')
      .where('expires_at', '>', at)
      .where('expires_at', '<=', horizon)
      .execute();
    for (const k of expiring) {
      if (
        await this.emitOnce(`key.expiring:${k.id}:${k.expires_at ?? ''}`, 'key.expiring', {
          keyId: k.id,
          name: k.name,
          environment: k.environment,
          expiresAt: k.expires_at,
          team: k.owner_team,
        })
      )
        n++;
    }
    const low = await this.db
      .selectFrom('keys')
      .select([
        'id',
        'name',
        'environment',
        'credits_remaining',
        'credits_refilled_at',
        'metadata',
        'owner_team',
      ])
      .where('status', '=', 'active')
      .where('credits_remaining', 'is not', null)
      .execute();
    for (const k of low) {
      const meta = JSON.parse(k.metadata) as { creditsLowThreshold?: unknown };
      const threshold =
        typeof meta.creditsLowThreshold === 'number' ? meta.creditsLowThreshold : DEFAULT_CREDITS_LOW;
      if ((k.credits_remaining ?? 0) > threshold) continue;
      const mark = `key.credits_low:${k.id}:${k.credits_refilled_at ?? 'initial'}`;
      if (
        await this.emitOnce(mark, 'key.credits_low', {
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
}
