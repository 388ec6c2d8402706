import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { InvalidationBus } from '../../core/ports.js';

/** After a reconnect ioredis re-subscribes on its own, a few milliseconds after 'ready'. */
const RESUBSCRIBE_GRACE_MS = 250;

/**
 * Cache invalidation across nodes over Redis pub/sub. Pub/sub delivers at most once: a node
 * that lost its subscription may have missed messages, so whenever it (re)connects it drops its
 * whole cache (`onReset`), once at 'ready' and once more after the re-subscription has surely
 * completed. While disconnected, `connected` is false and the verifier trusts cached entries
 * for one second only.
 */
export class RedisBus implements InvalidationBus {
  private readonly sub: Redis;
  connected = false;

  constructor(
    private readonly pub: Redis,
    private readonly channel: string,
    private readonly log: Logger,
  ) {
    // The subscriber queues its SUBSCRIBE until connected; the publisher fails fast.
    this.sub = pub.duplicate({ enableOfflineQueue: true, lazyConnect: true });
    this.sub.on('error', () => undefined);
  }

  async publish(keyId: string): Promise<void> {
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
        this.connected = this.sub.status === 'ready';
      }, RESUBSCRIBE_GRACE_MS).unref();
    });
    this.sub.on('close', () => {
      if (this.connected) {
        this.connected = false;
        onReset();
        this.log.error('invalidation channel lost: cached keys are re-read after 1 s until Redis is back');
      }
    });
    this.sub.connect().catch(() => undefined);
    // Wait for the subscription (bounded: a Redis outage at start must not block start-up).
    await Promise.race([
      this.sub.subscribe(this.channel),
      new Promise((r) => setTimeout(r, 2000).unref()),
    ]).catch(() => undefined);
    this.connected = this.sub.status === 'ready';
  }

  async close(): Promise<void> {
    this.sub.disconnect();
    await Promise.resolve();
  }
}
