/**
 * Metric families whose values are read at scrape time from objects we own, and a
 * histogram whose per-version child is a plain preallocated array.
 *
 * Why not prom-client's Counter/Histogram children: their `labels(...).observe()`
 * still validates and hashes the label object on every call. Here each version
 * binds one child when it becomes READY; the request path only does array
 * arithmetic on it, and the registry reads the children when scraped. The objects
 * below follow prom-client's metric protocol (`name`, `help`, `type`, `get()`,
 * `reset()`), so they live in an ordinary prom-client `Registry` next to its own
 * gauges and default metrics.
 */
import type { Metric, Registry } from 'prom-client';

export type Labels = Readonly<Record<string, string>>;
export type MetricType = 'counter' | 'gauge' | 'histogram';

interface Value { labels: Labels; value: number; metricName?: string }

/** Emit one sample; `suffix` is appended to the family name (`_bucket`, `_sum`, `_count`). */
export type Emit = (labels: Labels, value: number, suffix?: string) => void;

export class ScrapedFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly aggregator = 'sum';
  readonly #collect: (emit: Emit) => void;

  constructor(name: string, help: string, type: MetricType, collect: (emit: Emit) => void) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.#collect = collect;
  }

  async get(): Promise<{ name: string; help: string; type: MetricType; aggregator: string; values: Value[] }> {
    const values: Value[] = [];
    const name = this.name;
    this.#collect((labels, value, suffix) => {
      values.push(suffix === undefined ? { labels, value } : { labels, value, metricName: name + suffix });
    });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Registry.resetMetrics(): values belong to their owners, nothing to reset here. */
  reset(): void { /* nothing */ }

  register(registry: Registry): this {
    // The registry only calls name/help/type/get/reset on a metric (checked against
    // prom-client 15); its TypeScript type names the four built-in classes.
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}

/** Upper bounds (seconds) from 50 us to 10 s: resolves sub-millisecond latencies. */
export const LATENCY_BUCKETS: readonly number[] = Object.freeze([
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/** Powers of two up to `max` (and `max` itself when it is not one). */
export function batchBuckets(max: number): number[] {
  const out: number[] = [];
  for (let b = 1; b < max; b *= 2) out.push(b);
  out.push(Math.max(1, max));
  return out;
}

/**
 * One histogram child: non-cumulative counts per bucket (the last slot is +Inf),
 * sum and count. `observe` is a short linear scan; buckets are few.
 */
export class Hist {
  readonly bounds: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }

  /** Emit `_bucket` (cumulative, with `le`), `_sum` and `_count` samples. */
  emit(emit: Emit, labels: Labels): void {
    let acc = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      acc += this.counts[i]!;
      emit({ ...labels, le: String(this.bounds[i]) }, acc, '_bucket');
    }
    emit({ ...labels, le: '+Inf' }, this.count, '_bucket');
    emit(labels, this.sum, '_sum');
    emit(labels, this.count, '_count');
  }
}
