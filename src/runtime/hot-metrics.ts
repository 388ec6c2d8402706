import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * Metrics bumped on the verification hot path. prom-client's `inc()`/`observe()` allocate and hash
 * labels on every call, which costs as much as the rest of a cached verification; these keep plain
 * numbers and hand them to Prometheus when it scrapes. Nothing is sampled or dropped.
 * Measurements and guarding tests: docs/hot-path.md#hot-path-metrics.
 */

/** A counter child that is a number until scraped. */
export class LazyCount {
  n = 0;
  inc(): void {
    this.n++;
  }
}

/** A labelled counter whose children are LazyCounts, added to the Prometheus counter on collect. */
export function lazyCounter<L extends string>(
  opts: { name: string; help: string; label: string; registers: Registry[] },
  values: readonly L[],
): { counter: Counter; children: Map<L, LazyCount> } {
  const children = new Map<L, LazyCount>(values.map((v) => [v, new LazyCount()]));
  const counter: Counter = new Counter({
    name: opts.name,
    help: opts.help,
    labelNames: [opts.label],
    registers: opts.registers,
    collect() {
      for (const [v, c] of children) {
        // Every series is present (0 when never bumped), as with pre-bound prom-client children.
        counter.inc({ [opts.label]: v }, c.n);
        c.n = 0;
      }
    },
  });
  return { counter, children };
}

interface BucketValue {
  labels: Record<string, string | number>;
  /** prom-client's `get()` merges these into `labels` (its histograms always carry the field). */
  sharedLabels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/**
 * A label-less histogram with fixed buckets: `record` is a bucket search over a typed array. It is
 * a prom-client Histogram (so a Registry takes it) whose exported values come from those counts.
 */
export class FastHistogram extends Histogram {
  private readonly bounds: Float64Array;
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;
  private readonly metricName: string;
  private readonly metricHelp: string;

  constructor(opts: { name: string; help: string; buckets: number[]; registers: Registry[] }) {
    super(opts);
    this.metricName = opts.name;
    this.metricHelp = opts.help;
    this.bounds = Float64Array.from(opts.buckets);
    this.counts = new Float64Array(opts.buckets.length);
  }

  /** The hot path's `observe` (prom-client's own `observe` is not used for this metric). */
  record(value: number): void {
    // prom-client's observe() throws on NaN; here a bad value must not poison the sum for good.
    if (!Number.isFinite(value)) return;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (value <= (b[i] ?? 0)) {
        this.counts[i] = (this.counts[i] ?? 0) + 1;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }

  override reset(): void {
    super.reset();
    // prom-client's constructor calls reset() before this class's fields exist.
    (this.counts as Float64Array | undefined)?.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  /** What prom-client's registry prints (it calls this in preference to `get`). */
  getForPromString(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: BucketValue[];
  }> {
    const values: BucketValue[] = [];
    let acc = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      acc += this.counts[i] ?? 0;
      values.push({
        labels: { le: this.bounds[i] ?? 0 },
        sharedLabels: {},
        value: acc,
        metricName: `${this.metricName}_bucket`,
      });
    }
    const bucket = `${this.metricName}_bucket`;
    values.push({ labels: { le: '+Inf' }, sharedLabels: {}, value: this.count, metricName: bucket });
    values.push({ labels: {}, sharedLabels: {}, value: this.sum, metricName: `${this.metricName}_sum` });
    values.push({ labels: {}, sharedLabels: {}, value: this.count, metricName: `${this.metricName}_count` });
    return Promise.resolve({
      name: this.metricName,
      help: this.metricHelp,
      type: 'histogram',
      aggregator: 'sum',
      values,
    });
  }
}

/** HTTP requests by route and status: a LazyCount per pair, added to the counter on collect. */
export class LazyRequestCounter {
  readonly counter: Counter;
  private readonly counts = new Map<string, Map<number, LazyCount>>();

  constructor(opts: { name: string; help: string; registers: Registry[] }) {
    const counts = this.counts;
    const counter: Counter = new Counter({
      ...opts,
      labelNames: ['route', 'status'],
      collect() {
        for (const [route, byStatus] of counts) {
          for (const [status, c] of byStatus) {
            counter.inc({ route, status: String(status) }, c.n);
            c.n = 0;
          }
        }
      },
    });
    this.counter = counter;
  }

  inc(route: string, status: number): void {
    let byStatus = this.counts.get(route);
    if (byStatus === undefined) this.counts.set(route, (byStatus = new Map<number, LazyCount>()));
    let c = byStatus.get(status);
    if (c === undefined) byStatus.set(status, (c = new LazyCount()));
    c.n++;
  }
}
