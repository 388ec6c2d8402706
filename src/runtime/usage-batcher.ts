import type { Logger } from 'pino';
import { newId } from '../core/ids.js';
import { Interner } from '../core/intern.js';
import { ENVIRONMENTS } from '../core/keys.js';
import type { Limiter, UsageSink, VerificationEvent } from '../core/ports.js';
import type { Storage } from '../storage/db.js';
import type { VerificationLogTable } from '../storage/schema.js';
import type { UsageBatch } from '../storage/usage-batch.js';
import { writeUsageBatch } from '../storage/usage-repo.js';
import type { Metrics } from './metrics.js';

export interface BatcherOptions {
  flushIntervalMs: number;
  /** Log rows kept in memory at most (counters are aggregated and never dropped). */
  maxBufferedLogs: number;
}

const emptyBatch = (): UsageBatch => ({
  logs: [],
  daily: new Map(),
  seen: new Map(),
  lastUsed: new Map(),
  credits: new Map(),
});
const add = (m: Map<string, number>, k: string, n = 1): void => {
  m.set(k, (m.get(k) ?? 0) + n);
};

/** Requests repeat the same permission lists and user agents: keep one copy of each. */
// Lists longer than 256 characters are kept per event, not interned (see Interner).
const PERMISSION_LISTS = new Interner<readonly string[]>(10_000, 256);
const USER_AGENTS = new Interner<string>(10_000, 256);
const NO_PERMISSIONS: readonly string[] = [];

/**
 * Pending events, column by column. `record` copies an event's fields here and lets the event
 * object die young: a million retained event objects a second would be copied by every scavenge
 * and promoted, which cost more than building them. Columns of numbers stay unboxed.
 */
class EventColumns {
  at: number[] = [];
  keyId: (string | null)[] = [];
  keyStart: (string | null)[] = [];
  environment: VerificationEvent['environment'][] = [];
  permissions: (readonly string[])[] = [];
  resource: (string | null)[] = [];
  code: VerificationEvent['code'][] = [];
  ip: (string | null)[] = [];
  userAgent: (string | null)[] = [];
  latencyUs: number[] = [];

  get length(): number {
    return this.at.length;
  }

  push(e: VerificationEvent): void {
    this.at.push(e.at);
    this.keyId.push(e.keyId);
    this.keyStart.push(e.keyStart);
    // Held until the flush, per-request strings and arrays outlive the young generation and are
    // promoted (the costliest garbage); shared copies are not.
    this.environment.push(ENVIRONMENTS.find((x) => x === e.environment) ?? e.environment);
    const p = e.permissions;
    this.permissions.push(
      p.length === 0
        ? NO_PERMISSIONS
        : PERMISSION_LISTS.get(p.length === 1 ? (p[0] ?? '') : p.join(' '), () => p),
    );
    this.resource.push(e.resource);
    this.code.push(e.code);
    this.ip.push(e.ip);
    const ua = e.userAgent;
    this.userAgent.push(ua === null || ua.length > 256 ? ua : USER_AGENTS.get(ua, () => ua));
    this.latencyUs.push(e.latencyUs);
  }

  event(i: number): VerificationEvent {
    return {
      at: this.at[i] ?? 0,
      keyId: this.keyId[i] ?? null,
      keyStart: this.keyStart[i] ?? null,
      environment: this.environment[i] ?? 'production',
      permissions: this.permissions[i] ?? [],
      resource: this.resource[i] ?? null,
      code: this.code[i] ?? 'MALFORMED',
      ip: this.ip[i] ?? null,
      userAgent: this.userAgent[i] ?? null,
      latencyUs: this.latencyUs[i] ?? 0,
    };
  }
}

/** ISO time of a millisecond, remembered for the next event (consecutive events share most). */
class IsoClock {
  private ms = NaN;
  private iso = '';
  at(ms: number): string {
    if (ms !== this.ms) {
      this.ms = ms;
      this.iso = new Date(ms).toISOString();
    }
    return this.iso;
  }
}

/**
 * Turns verifications into usage counters and log rows without a write per call: events are
 * aggregated in memory and written in one transaction at least every `flushIntervalMs`, and on
 * graceful shutdown. What an abrupt kill (SIGKILL, power loss) loses is bounded by one interval
 * of events; while storage is down, counters keep aggregating and at most `maxBufferedLogs` log
 * rows are kept (older rows beyond that are dropped and counted in a metric).
 */
export class UsageBatcher implements UsageSink {
  private batch = emptyBatch();
  private pending = new EventColumns();
  private readonly iso = new IsoClock();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  dropped = 0;

  constructor(
    private readonly storage: Storage,
    private readonly limiter: Limiter,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly opts: BatcherOptions,
  ) {
    this.timer = setInterval(() => {
      void this.flush();
    }, opts.flushIntervalMs);
    this.timer.unref();
  }

  /**
   * The hot path: keeps the event and returns. Rows and counters are built at flush time, off the
   * verification's latency. Past the buffer bound, only the counters are kept.
   */
  record(e: VerificationEvent): void {
    if (this.pending.length + this.batch.logs.length < this.opts.maxBufferedLogs) {
      this.pending.push(e);
    } else {
      this.dropped++;
      this.aggregate(this.batch, e, this.iso.at(e.at));
    }
  }

  private aggregate(b: UsageBatch, e: VerificationEvent, at: string): void {
    if (e.keyId === null) return;
    const day = at.slice(0, 10);
    const id = e.keyId;
    add(b.daily, `${id}\u0000${day}\u0000${e.code}`);
    if (e.ip !== null) add(b.seen, `${id}\u0000${day}\u0000ip\u0000${e.ip}`);
    if (e.userAgent !== null) add(b.seen, `${id}\u0000${day}\u0000ua\u0000${e.userAgent.slice(0, 256)}`);
    if (e.code === 'VALID') {
      const prev = b.lastUsed.get(id);
      if (prev === undefined || prev < at) b.lastUsed.set(id, at);
      for (const p of e.permissions) {
        const used = e.resource !== null && p.split(':').length === 2 ? `${p}:${e.resource}` : p;
        add(b.seen, `${id}\u0000${day}\u0000permission\u0000${used}`);
      }
    }
  }

  private toRow(e: VerificationEvent, at: string): VerificationLogTable {
    return {
      id: newId('vl', e.at),
      at,
      key_id: e.keyId,
      key_start: e.keyStart,
      environment: e.environment,
      permissions: e.permissions.length === 0 ? null : e.permissions.join(','),
      resource: e.resource,
      code: e.code,
      ip: e.ip,
      user_agent: e.userAgent === null ? null : e.userAgent.slice(0, 256),
      latency_us: Math.round(e.latencyUs),
    };
  }

  /** Writes what has accumulated. Flushes never overlap; a failed batch is merged back for the next try. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushOnce());
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    const batch = this.batch;
    const events = this.pending;
    this.batch = emptyBatch();
    this.pending = new EventColumns();
    for (let i = 0; i < events.length; i++) {
      const e = events.event(i);
      const at = this.iso.at(e.at);
      batch.logs.push(this.toRow(e, at));
      this.aggregate(batch, e, at);
    }
    batch.credits = this.limiter.drainCreditUse();
    if (batch.logs.length === 0 && batch.daily.size === 0 && batch.credits.size === 0) return;
    const end = this.metrics.usageFlushDuration.startTimer();
    try {
      await writeUsageBatch(this.storage, batch);
      this.metrics.jobRuns.labels('usage_flush', 'ok').inc();
    } catch (err) {
      this.metrics.jobRuns.labels('usage_flush', 'error').inc();
      this.log.warn(
        { err: (err as Error).message, rows: batch.logs.length },
        'usage flush failed; kept for the next try',
      );
      this.mergeBack(batch);
    } finally {
      end();
      this.metrics.usageQueueDepth.set(this.batch.logs.length + this.pending.length);
    }
  }

  private mergeBack(old: UsageBatch): void {
    const cur = this.batch;
    const room = Math.max(0, this.opts.maxBufferedLogs - cur.logs.length);
    this.dropped += Math.max(0, old.logs.length - room);
    cur.logs = [...old.logs.slice(old.logs.length - room), ...cur.logs];
    for (const [k, n] of old.daily) add(cur.daily, k, n);
    for (const [k, n] of old.seen) add(cur.seen, k, n);
    for (const [k, at] of old.lastUsed) {
      const p = cur.lastUsed.get(k);
      if (p === undefined || p < at) cur.lastUsed.set(k, at);
    }
    this.limiter.restoreCreditUse(old.credits);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.flush();
  }
}
