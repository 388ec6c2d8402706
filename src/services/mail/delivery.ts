import { claimMail, dueMail, recordMailAttempt } from '../../storage/mail-repo.js';
import type { ServiceContext } from '../context.js';
import type { SendMail } from './transport.js';

/** Attempts before a message is given up (about four hours of backoff at the default base). */
export const MAIL_MAX_ATTEMPTS = 8;
const BATCH = 50;
const MAX_BACKOFF_MS = 3_600_000;
/** How long a claimed message stays with the node sending it before another may try. */
const LEASE_MS = 120_000;

/** SMTP delivery: sends due mail rows, retrying with exponential backoff (as webhooks/delivery.ts). */
export class MailDelivery {
  private timer: NodeJS.Timeout | undefined;
  private dispatching: Promise<number> = Promise.resolve(0);

  constructor(
    private readonly ctx: ServiceContext,
    private readonly send: SendMail,
    private readonly retryBaseMs: number,
  ) {}

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => {
      void this.deliverDue();
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  /** Sends every due message once; returns how many were sent. Runs are serialised. */
  deliverDue(): Promise<number> {
    this.dispatching = this.dispatching.then(() => this.deliverOnce()).catch(() => 0);
    return this.dispatching;
  }

  private async deliverOnce(): Promise<number> {
    const now = this.ctx.clock.now();
    const at = new Date(now).toISOString();
    const { db } = this.ctx.storage;
    let sent = 0;
    for (const m of await dueMail(db, at, BATCH)) {
      // Another node may be sending it: only the one whose claim lands sends.
      if (!(await claimMail(db, m.id, m.next_attempt_at, new Date(now + LEASE_MS).toISOString()))) continue;
      const attempts = m.attempts + 1;
      const error = await this.send(m.recipient, {
        subject: m.subject,
        text: m.text_body,
        html: m.html_body,
      });
      const done = error === null;
      const giveUp = !done && attempts >= MAIL_MAX_ATTEMPTS;
      await recordMailAttempt(db, m.id, {
        status: done ? 'sent' : giveUp ? 'failed' : 'pending',
        attempts,
        last_error: error,
        delivered_at: done ? new Date(this.ctx.clock.now()).toISOString() : null,
        next_attempt_at: new Date(
          now + Math.min(this.retryBaseMs * 2 ** (attempts - 1), MAX_BACKOFF_MS),
        ).toISOString(),
      });
      const outcome = done ? 'sent' : giveUp ? 'failed' : 'retry';
      this.ctx.metrics.mailDeliveries.labels(outcome).inc();
      if (done) sent++;
      else
        this.ctx.log.warn(
          { mail: m.id, occasion: m.occasion, keyId: m.key_id, attempts, error, gaveUp: giveUp },
          giveUp ? 'owner mail given up' : 'owner mail failed; it will be retried',
        );
    }
    return sent;
  }
}
