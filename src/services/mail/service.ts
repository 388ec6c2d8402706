import type { GovernanceReport } from '../../core/governance.js';
import type { Actor } from '../../core/model.js';
import { toPage } from '../../core/page.js';
import type { EventSink } from '../../core/ports.js';
import { listMail } from '../../storage/mail-repo.js';
import type { ServiceContext } from '../context.js';
import { MailDelivery } from './delivery.js';
import { MailEvents } from './events.js';
import { scanMail, sendDigests } from './scans.js';
import { smtpSender, type SendMail } from './transport.js';

export interface MailOptions {
  smtpUrl: string;
  from: string;
  publicUrl: string | undefined;
  digest: 'off' | 'daily';
  retryBaseMs: number;
  /** Tests replace the SMTP sender (the real one is used unless given). */
  send?: SendMail;
}

/** First retry delay of a failed mail; doubles each attempt (SMTP servers are not hammered). */
export const MAIL_RETRY_BASE_MS = 30_000;

/**
 * Owner mail (docs/notifications.md), shaped as the webhooks are: key events become mail rows
 * once per key and occasion (events.ts), scheduled scans queue expiry reminders, low credits and
 * the daily digest (scans.ts), and a dispatcher sends them over SMTP with retries (delivery.ts,
 * transport.ts). This class is the one object the rest of the app holds.
 */
export class MailService {
  private readonly events: MailEvents;
  private readonly delivery: MailDelivery;
  private readonly closeTransport: () => void;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly opts: MailOptions,
  ) {
    this.events = new MailEvents(ctx, opts.publicUrl);
    const smtp = opts.send === undefined ? smtpSender(opts.smtpUrl, opts.from) : undefined;
    this.closeTransport = () => smtp?.close();
    this.delivery = new MailDelivery(ctx, opts.send ?? (smtp as { send: SendMail }).send, opts.retryBaseMs);
  }

  /** A key event: queued as mail when it is an occasion for one. Never throws into the caller's path. */
  notify(event: string, data: Record<string, unknown>): void {
    this.events.onEvent(event, data).catch((err: unknown) => {
      this.ctx.log.warn({ err: (err as Error).message, event }, 'could not queue an owner mail');
    });
  }

  /** The awaited form of `notify` (jobs, tests). */
  notifyNow(event: string, data: Record<string, unknown>): Promise<boolean> {
    return this.events.onEvent(event, data);
  }

  /** Job: expiry reminders and low credits (scans.ts). */
  scan(rotationWarningDays: number): Promise<number> {
    return scanMail(this.ctx, this.events, rotationWarningDays);
  }

  /** Job: the daily digest, when `KEYWARDEN_DIGEST=daily` (scans.ts). */
  async digest(report: () => Promise<GovernanceReport>): Promise<number> {
    if (this.opts.digest !== 'daily') return 0;
    return sendDigests(this.ctx, this.events, report, this.opts.publicUrl);
  }

  deliverDue(): Promise<number> {
    return this.delivery.deliverDue();
  }

  start(intervalMs = 1000): void {
    this.delivery.start(intervalMs);
  }

  stop(): void {
    this.delivery.stop();
    this.closeTransport();
  }

  /** The mail delivery log, newest first (a team-scoped admin sees its team's keys' mail). */
  async deliveries(actor: Actor, limit: number, cursor?: string) {
    const rows = await listMail(this.ctx.storage.db, actor.team, limit + 1, cursor);
    return toPage(
      rows,
      limit,
      (r) => r.id,
      (r) => ({
        id: r.id,
        occasion: r.occasion,
        recipient: r.recipient,
        keyId: r.key_id,
        subject: r.subject,
        status: r.status,
        attempts: r.attempts,
        nextAttemptAt: r.status === 'pending' ? r.next_attempt_at : null,
        lastError: r.last_error,
        createdAt: r.created_at,
        deliveredAt: r.delivered_at,
      }),
    );
  }
}

/** The event sink of the app: webhooks, and owner mail when it is configured. */
export function withMail(webhooks: EventSink, mail: MailService | undefined): EventSink {
  if (mail === undefined) return webhooks;
  return {
    emit(event, data) {
      webhooks.emit(event, data);
      mail.notify(event, data);
    },
    rateLimited(keyId, keyName, limit, windowSeconds, team) {
      webhooks.rateLimited(keyId, keyName, limit, windowSeconds, team);
    },
  };
}
