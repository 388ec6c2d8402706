import { KeywardenError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { randomBase62 } from '../../core/keys.js';
import type { Actor } from '../../core/model.js';
import { toPage } from '../../core/page.js';
import type { EventSink } from '../../core/ports.js';
import { seal } from '../../core/secrets.js';
import type { RateLimitState } from '../../core/verify.js';
import { appendAudit } from '../../storage/audit-repo.js';
import {
  deleteWebhook,
  insertWebhook,
  listActiveWebhooks,
  listDeliveries,
  webhookTeam,
} from '../../storage/webhooks-repo.js';
import { nowIso, type ServiceContext } from '../context.js';
import { WebhookDelivery } from './delivery.js';
import { WebhookEvents, type WebhookEvent } from './events.js';
import { publishAuditAnchor, scanEvents } from './scans.js';
import { checkTarget, coarseError, systemResolve, type Resolve, type TargetOptions } from './transport.js';

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

/**
 * Webhooks: admins subscribe URLs to key events (CRUD here); events become delivery rows
 * (events.ts); a dispatcher posts them, signed, retrying with exponential backoff (delivery.ts);
 * scheduled scans emit expiry, low-credit and audit-anchor events (scans.ts). This class is the
 * one object the rest of the app holds.
 */
export class WebhookService implements EventSink {
  private readonly events: WebhookEvents;
  private readonly delivery: WebhookDelivery;
  private readonly targets: TargetOptions;

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
  ) {
    this.targets = { allowPrivate: opts.allowPrivateTargets, resolve: opts.resolve ?? systemResolve };
    this.events = new WebhookEvents(ctx);
    this.delivery = new WebhookDelivery(ctx, {
      retryBaseMs: opts.retryBaseMs,
      timeoutMs: opts.timeoutMs,
      secretsKey: opts.secretsKey,
      targets: this.targets,
    });
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
    await this.ctx.storage.db.transaction().execute(async (trx) => {
      await insertWebhook(trx, {
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
      });
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
    this.events.invalidate();
    return { secret, record };
  }

  async list(actor: Actor): Promise<WebhookRecord[]> {
    const rows = await listActiveWebhooks(this.ctx.storage.db, visibleTo(actor));
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
    await this.ctx.storage.db.transaction().execute(async (trx) => {
      if (!(await deleteWebhook(trx, id, team)))
        throw new KeywardenError('NOT_FOUND', `no webhook with id ${id}`);
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
    this.events.invalidate();
  }

  async deliveries(actor: Actor, id: string, limit: number, cursor?: string) {
    const { db } = this.ctx.storage;
    const team = visibleTo(actor);
    if (team !== null && (await webhookTeam(db, id)) !== team)
      throw new KeywardenError('NOT_FOUND', `no webhook with id ${id}`);
    const rows = await listDeliveries(db, id, limit + 1, cursor);
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
    this.events.emit(event, data);
  }

  /** Emits at most once per `mark` across all nodes (the mark row is the latch). */
  emitOnce(mark: string, event: WebhookEvent, data: Record<string, unknown>): Promise<boolean> {
    return this.events.emitOnce(mark, event, data);
  }

  /** key.rate_limited at most once per key and limit window (per node). */
  rateLimited(
    keyId: string,
    name: string,
    limit: RateLimitState,
    windowSeconds: number,
    team: string | null = null,
  ): void {
    this.events.rateLimited(keyId, name, limit, windowSeconds, team);
  }

  start(intervalMs = 1000): void {
    this.delivery.start(intervalMs);
  }

  stop(): void {
    this.delivery.stop();
  }

  /** Posts every due delivery once; returns how many succeeded. Runs are serialised. */
  deliverDue(): Promise<number> {
    return this.delivery.deliverDue();
  }

  /** Job: the audit chain's head as an hourly `audit.anchor` event (scans.ts). */
  publishAuditAnchor(): Promise<number> {
    return publishAuditAnchor(this.ctx, this.events);
  }

  /** Job: key.expiring and key.credits_low events, once each (scans.ts). */
  scanEvents(rotationWarningDays: number): Promise<number> {
    return scanEvents(this.ctx, this.events, rotationWarningDays);
  }
}
