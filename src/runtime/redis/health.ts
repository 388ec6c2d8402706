import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface RedisHealthOptions {
  intervalMs: number;
  timeoutMs: number;
}

/**
 * Is Redis answering? A hung Redis (SIGSTOP, a fork stall, a half-open network) keeps its
 * connections open, so connection events never say so. Every `intervalMs` both connections (the
 * command one and the subscriber) are sent a PING; if either has not answered within `timeoutMs`
 * Redis counts as down at once (so within interval + timeout of the stall), and as up again at
 * the first round both answer. Listeners hear each change.
 */
export class RedisHealth {
  healthy = true;
  private readonly listeners: ((healthy: boolean) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;

  constructor(
    private readonly connections: Redis[],
    private readonly opts: RedisHealthOptions,
    private readonly log: Logger,
  ) {}

  onChange(listener: (healthy: boolean) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.timer ??= setInterval(() => {
      void this.check();
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round of PINGs; resolves to the health it concluded. */
  async check(): Promise<boolean> {
    if (this.inFlight) return this.healthy;
    this.inFlight = true;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      // After the deadline, let the event loop read pending sockets once (setImmediate runs after
      // the poll phase): a busy process must not mistake its own lag for a late answer.
      timer = setTimeout(() => {
        setImmediate(() => {
          resolve(false);
        });
      }, this.opts.timeoutMs);
    });
    const pings = Promise.all(this.connections.map((c) => c.ping())).then(
      () => true,
      () => false,
    );
    const ok = await Promise.race([pings, deadline]);
    clearTimeout(timer);
    this.inFlight = false;
    this.set(ok);
    return ok;
  }

  private set(ok: boolean): void {
    if (ok === this.healthy) return;
    this.healthy = ok;
    if (!ok) {
      this.log.error(
        { timeoutMs: this.opts.timeoutMs },
        'Redis does not answer PING in time: treating it as down until it does',
      );
    } else {
      this.log.info('Redis answers PING again');
    }
    for (const l of this.listeners) l(ok);
  }
}
