import { createHmac } from 'node:crypto';
import { isSealed, unseal } from '../../core/secrets.js';
import { dueDeliveries, recordAttempt } from '../../storage/webhooks-repo.js';
import type { ServiceContext } from '../context.js';
import { postDelivery, type TargetOptions } from './transport.js';

/** Attempts before a delivery is given up (about 2 minutes of backoff at the default base). */
export const MAX_ATTEMPTS = 8;
/** Deliveries posted per run at most; the rest wait for the next run. */
const BATCH = 100;
/** The longest wait between two attempts. */
const MAX_BACKOFF_MS = 3_600_000;

/**
 * `Keywarden-Signature: t=<unix seconds>,v1=<hex HMAC-SHA-256 of "<t>.<body>">`, as Stripe does:
 * the timestamp in the signed text lets receivers refuse replays older than a few minutes.
 */
export function signPayload(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

export interface DeliveryOptions {
  retryBaseMs: number;
  timeoutMs: number;
  /** AES-256-GCM key of the signing secrets at rest (derived from the server secret). */
  secretsKey: Buffer;
  /** The SSRF rules every post is checked against again (DNS may have changed since creation). */
  targets: TargetOptions;
}

/** HTTP delivery: posts due delivery rows, signed, retrying with exponential backoff. */
export class WebhookDelivery {
  private timer: NodeJS.Timeout | undefined;
  private dispatching: Promise<number> = Promise.resolve(0);

  constructor(
    private readonly ctx: ServiceContext,
    private readonly opts: DeliveryOptions,
  ) {}

  /** The signing secret of a stored row: sealed with the derived key, or plaintext from before encryption. */
  private openSecret(webhookId: string, stored: string): string {
    return isSealed(stored) ? unseal(this.opts.secretsKey, stored, webhookId) : stored;
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
    const { db } = this.ctx.storage;
    const due = await dueDeliveries(db, at, BATCH);
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
          { ...this.opts.targets, timeoutMs: this.opts.timeoutMs },
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
      await recordAttempt(db, d.id, {
        status: done ? 'succeeded' : giveUp ? 'failed' : 'pending',
        attempts,
        last_status_code: code,
        last_error: error,
        delivered_at: done ? at : null,
        next_attempt_at: new Date(
          now + Math.min(this.opts.retryBaseMs * 2 ** (attempts - 1), MAX_BACKOFF_MS),
        ).toISOString(),
      });
      this.ctx.metrics.jobRuns.labels('webhook_delivery', done ? 'ok' : giveUp ? 'failed' : 'retry').inc();
    }
    return ok;
  }
}
