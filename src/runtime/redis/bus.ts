import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { InvalidationBus } from '../../core/ports.js';
import type { RedisHealth } from './health.js';

/** After a reconnect ioredis re-subscribes on its own, a few milliseconds after 'ready'. */
const RESUBSCRIBE_GRACE_MS = 250;

/**
 * Cache invalidation across nodes over Redis pub/sub. Pub/sub delivers at most once: a node
 * that lost its subscription may have missed messages, so whenever it (re)connects it expires its
 * whole cache (`onReset`: re-read before trusted, kept as the last known state), once at 'ready' and once more after the re-subscription has surely
 * completed. While disconnected, `connected` is false and the verifier trusts cached entries
 * for one second only. A Redis that hangs without closing the connection is caught by the
 * health check (PING with a deadline): the channel counts as lost as soon as a PING is late, and
 * as back (with the cache dropped once more) when PINGs are answered again.
 */
export class RedisBus implements InvalidationBus {
  private readonly sub: Redis;
  connected = false;
  private health: RedisHealth | undefined;

  constructor(
    private readonly pub: Redis,
    private readonly channel: string,
    private readonly log: Logger,
  ) {
    // The subscriber queues its SUBSCRIBE until connected; the publisher fails fast.
    this.sub = pub.duplicate({ enableOfflineQueue: true, lazyConnect: true });
    this.sub.on('error', () => undefined);
  }

  /** The subscriber connection (the health check PINGs it too). */
  get subscriber(): Redis {
    return this.sub;
  }

  /** Ties the channel's state to the health check (call before subscribe). */
  watch(health: RedisHealth): void {
    this.health = health;
  }

  async publish(keyId: string): Promise<void> {
    // While Redis does not answer, fail at once rather than after the command timeout.
    if (this.health?.healthy === false) throw new Error('Redis is not answering; invalidation not published');
    await this.pub.publish(this.channel, keyId);
  }

  async subscribe(onKey: (keyId: string) => void, onReset: () => void): Promise<void> {
    this.sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) onKey(message);
    });
    this.sub.on('ready', () => {
      onReset();
      setTimeout(() => {
        onReset();
        this.connected = this.sub.status === 'ready' && this.health?.healthy !== false;
      }, RESUBSCRIBE_GRACE_MS).unref();
    });
    const lost = (why: string): void => {
      if (this.connected) {
        this.connected = false;
        onReset();
        this.log.error(
          { why },
          'invalidation channel lost: cached keys are re-read after 1 s until Redis is back',
        );
      }
    };
    this.sub.on('close', () => {
      lost('connection closed');
    });
    this.health?.onChange((healthy) => {
      if (!healthy) lost('no answer to PING');
      else if (this.sub.status === 'ready' && !this.connected) {
        // Messages may have been dropped meanwhile: re-read every cached entry.
        onReset();
        this.connected = true;
        this.log.info('invalidation channel back');
      }
    });
    this.sub.connect().catch(() => undefined);
    // Wait for the subscription (bounded: a Redis outage at start must not block start-up).
    await Promise.race([
      this.sub.subscribe(this.channel),
      new Promise((r) => setTimeout(r, 2000).unref()),
    ]).catch(() => undefined);
    this.connected = this.sub.status === 'ready' && this.health?.healthy !== false;
  }

  async close(): Promise<void> {
    this.sub.disconnect();
    await Promise.resolve();
  }
}
