import type { Credits } from '../core/model.js';
import { refillableIdentities, refillIdentity } from '../storage/identities-repo.js';
import { refillableKeys, refillKey } from '../storage/keys-repo.js';
import { deleteLogsBefore } from '../storage/usage-repo.js';
import type { ServiceContext } from './context.js';

/** The start of the current refill period (UTC): today's midnight, or the 1st of this month. */
export function periodStart(interval: 'daily' | 'monthly', nowMs: number): string {
  const d = new Date(nowMs);
  const start =
    interval === 'daily'
      ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
      : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  return new Date(start).toISOString();
}

/**
 * Background jobs: credit refills (on schedule, even for keys nobody uses) and verification-log
 * retention. Each run is idempotent and guarded, so several nodes may run them at once.
 */
export class Jobs {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly opts: {
      intervalSeconds: number;
      logRetentionDays: number;
      /** More jobs run on the same schedule (webhook event scans). */
      extra?: [string, () => Promise<number>][];
    },
  ) {}

  start(): void {
    const tick = (): void => {
      void this.runAll();
    };
    this.timer = setInterval(tick, this.opts.intervalSeconds * 1000);
    this.timer.unref();
    setImmediate(tick).unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  async runAll(): Promise<void> {
    await this.run('credit_refill', () => this.refillCredits());
    await this.run('log_retention', () => this.sweepLogs());
    for (const [name, fn] of this.opts.extra ?? []) await this.run(name, fn);
  }

  private async run(job: string, fn: () => Promise<number>): Promise<void> {
    try {
      const n = await fn();
      this.ctx.metrics.jobRuns.labels(job, 'ok').inc();
      if (n > 0) this.ctx.log.info({ job, affected: n }, 'background job done');
    } catch (err) {
      this.ctx.metrics.jobRuns.labels(job, 'error').inc();
      this.ctx.log.warn({ job, err: (err as Error).message }, 'background job failed; it will run again');
    }
  }

  /**
   * Sets the balance of every key and identity whose refill period began since its last refill.
   * Returns how many. An identity's refill drops the cache entries of its keys (they carry its balance).
   */
  async refillCredits(): Promise<number> {
    const now = this.ctx.clock.now();
    const at = new Date(now).toISOString();
    const { db } = this.ctx.storage;
    const rows = [
      ...(await refillableKeys(db)).map((r) => ({ ...r, write: refillKey })),
      ...(await refillableIdentities(db)).map((r) => ({ ...r, write: refillIdentity })),
    ];
    const due = rows.flatMap((r) => {
      const refill = JSON.parse(r.credits_refill ?? 'null') as Credits['refill'];
      if (refill === null) return [];
      const boundary = periodStart(refill.interval, now);
      return (r.credits_refilled_at ?? r.created_at) < boundary
        ? [{ id: r.id, amount: refill.amount, boundary, write: r.write }]
        : [];
    });
    if (due.length === 0) return 0;
    // Pending uses belong to the old period: write them before the balance is reset.
    await this.ctx.usage.flush();
    let done = 0;
    for (const d of due) {
      if (await d.write(db, d.id, d.amount, at, d.boundary)) {
        done++;
        this.ctx.cache.invalidateKey(d.id);
        this.ctx.limiter.resetCredits(d.id);
        await this.ctx.bus.publish(d.id).catch(() => undefined);
      }
    }
    return done;
  }

  async sweepLogs(): Promise<number> {
    const cutoff = new Date(this.ctx.clock.now() - this.opts.logRetentionDays * 86_400_000).toISOString();
    return deleteLogsBefore(this.ctx.storage.db, cutoff);
  }
}
