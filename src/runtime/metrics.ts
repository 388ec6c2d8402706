import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { VERIFY_CODES, type VerifyCode } from '../core/verify.js';
import { FastHistogram, LazyRequestCounter, lazyCounter, type LazyCount } from './hot-metrics.js';

/**
 * Prometheus metrics of one server. A registry per instance (not the global one) so several
 * servers in one test process do not share counters. Labels never carry key material. The
 * verification's counters are hot-metrics.ts's lazy ones (docs/hot-path.md#hot-path-metrics).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly verifications: Counter;
  readonly verifyDuration: FastHistogram;
  readonly cacheLookups: Counter;
  readonly cacheSize: Gauge;
  /** HTTP requests by route and status (`inc(route, status)`; exported as keywarden_http_requests_total). */
  readonly httpRequests: LazyRequestCounter;
  readonly rateLimitRejections: Counter<'reason'>;
  /** Client addresses or key prefixes that crossed the failed-authentication threshold. */
  readonly authThrottled: Counter;
  readonly jobRuns: Counter<'job' | 'outcome'>;
  readonly usageQueueDepth: Gauge;
  readonly usageFlushDuration: Histogram;
  /** The interval usage events are written at now (stretched under load, docs/verification-log.md#writer-cpu). */
  readonly usageFlushInterval: Gauge;
  /** Verification log (docs/verification-log.md): calls counted in overflow rows, event lines dropped. */
  readonly logOverflow: Counter;
  /** Calls whose usage rows the database refused as they were, counted without their details (refusals.ts). */
  readonly usageSalvaged: Counter;
  readonly verifyEventsDropped: Counter;
  /** Owner mail (docs/notifications.md): delivery attempts by outcome (sent, retry, failed). */
  readonly mailDeliveries: Counter<'outcome'>;
  /** Hot-path children: plain numbers until scraped (see hot-metrics.ts). */
  readonly cache: Record<'hit' | 'miss' | 'negative' | 'stale', LazyCount>;
  private readonly byCode: Map<VerifyCode, LazyCount>;
  /** The most frequent code's child, bumped without a map lookup. */
  private readonly valid: LazyCount | undefined;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const verifications = lazyCounter(
      {
        name: 'keywarden_verifications_total',
        help: 'Verifications by outcome code',
        label: 'code',
        registers,
      },
      VERIFY_CODES,
    );
    this.verifications = verifications.counter;
    this.byCode = verifications.children;
    this.valid = this.byCode.get('VALID');
    this.verifyDuration = new FastHistogram({
      name: 'keywarden_verify_duration_seconds',
      help: 'Time to decide one verification, in process (excludes HTTP)',
      buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
      registers,
    });
    const lookups = lazyCounter(
      {
        name: 'keywarden_cache_lookups_total',
        help: 'Verification cache lookups: hit, negative (known unknown), miss',
        label: 'result',
        registers,
      },
      ['hit', 'miss', 'negative', 'stale'] as const,
    );
    this.cacheLookups = lookups.counter;
    const child = (r: 'hit' | 'miss' | 'negative' | 'stale'): LazyCount => {
      const c = lookups.children.get(r);
      if (c === undefined) throw new Error(`no cache lookup counter ${r}`);
      return c;
    };
    this.cache = {
      hit: child('hit'),
      miss: child('miss'),
      negative: child('negative'),
      stale: child('stale'),
    };
    this.cacheSize = new Gauge({
      name: 'keywarden_cache_entries',
      help: 'Entries in the verification cache',
      registers,
    });
    this.httpRequests = new LazyRequestCounter({
      name: 'keywarden_http_requests_total',
      help: 'HTTP requests by route and status',
      registers,
    });
    this.rateLimitRejections = new Counter({
      name: 'keywarden_ratelimit_rejections_total',
      help: 'Verifications rejected by rate limits or credits',
      labelNames: ['reason'],
      registers,
    });
    this.authThrottled = new Counter({
      name: 'keywarden_auth_throttled_total',
      help: 'Times a client address or admin-key prefix crossed the failed-authentication threshold',
      registers,
    });
    this.jobRuns = new Counter({
      name: 'keywarden_job_runs_total',
      help: 'Background job runs by job and outcome',
      labelNames: ['job', 'outcome'],
      registers,
    });
    this.usageQueueDepth = new Gauge({
      name: 'keywarden_usage_queue_depth',
      help: 'Verification events waiting to be written',
      registers,
    });
    this.usageFlushInterval = new Gauge({
      name: 'keywarden_usage_flush_interval_seconds',
      help: 'Interval at which verification events are written now (stretched under load)',
      registers,
    });
    this.usageFlushDuration = new Histogram({
      name: 'keywarden_usage_flush_duration_seconds',
      help: 'Time to write one batch of usage and log rows',
      registers,
    });
    this.logOverflow = new Counter({
      name: 'keywarden_log_overflow_total',
      help: "Verifications counted in a minute's overflow row of the log (its row cap was reached)",
      registers,
    });
    this.usageSalvaged = new Counter({
      name: 'keywarden_usage_salvaged_total',
      help: 'Verifications whose usage rows the database refused as they were, counted without their caller-chosen details',
      registers,
    });
    this.verifyEventsDropped = new Counter({
      name: 'keywarden_verify_events_dropped_total',
      help: 'Per-verification event lines dropped because their sink could not keep up',
      registers,
    });
    this.mailDeliveries = new Counter({
      name: 'keywarden_mail_deliveries_total',
      help: 'Owner mail delivery attempts by outcome (sent, retry, failed: given up)',
      labelNames: ['outcome'],
      registers,
    });
  }

  verification(code: VerifyCode, seconds: number): void {
    (code === 'VALID' ? this.valid : this.byCode.get(code))?.inc();
    this.verifyDuration.record(seconds);
  }
}
