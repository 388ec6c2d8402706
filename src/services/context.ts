import type { Logger } from 'pino';
import type { KeyDigester, KeyHasher } from '../core/keys.js';
import type {
  Clock,
  EventSink,
  InvalidationBus,
  Limiter,
  UsageSink,
  VerificationCache,
} from '../core/ports.js';
import type { Storage } from '../storage/db.js';
import type { Metrics } from '../runtime/metrics.js';

/** The adapters a service needs, assembled once by the composition root (main.ts). */
export interface ServiceContext {
  storage: Storage;
  cache: VerificationCache;
  bus: InvalidationBus;
  clock: Clock;
  hasher: KeyHasher;
  /** The hasher's digest as raw bytes (one-byte characters): what the verification cache is keyed by. */
  digester: KeyDigester;
  prefix: string;
  usage: UsageSink;
  limiter: Limiter;
  /** Key events for webhooks; set once the webhook service exists. */
  events: EventSink;
  metrics: Metrics;
  log: Logger;
}

export function nowIso(ctx: { clock: Clock }): string {
  return new Date(ctx.clock.now()).toISOString();
}
