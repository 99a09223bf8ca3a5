/**
 * Latency histogram with logarithmic buckets (HDR-style): 1 us .. ~60 s at ~1%
 * relative precision, so a run of millions of requests costs a fixed 15 KB instead
 * of one number per sample, and windows merge by adding counts.
 * Values are microseconds. Runs on the load generator's only thread.
 */

const GROWTH = 1.01; // bucket i covers [GROWTH^i, GROWTH^(i+1)) us; worst-case error ~0.5%
const LOG_GROWTH = Math.log(GROWTH);
const MAX_US = 60_000_000;
const BUCKETS = Math.ceil(Math.log(MAX_US) / LOG_GROWTH) + 1;

export class Histogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  record(us: number): void {
    const i = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(us) / LOG_GROWTH));
    this.counts[i]++;
    this.count++;
    this.sum += us;
    if (us < this.min) this.min = us;
    if (us > this.max) this.max = us;
  }

  merge(other: Histogram): this {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    return this;
  }

  mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** Value at quantile q in [0, 1]: the bucket's geometric middle, clamped to the exact min/max. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    if (q >= 1) return this.max;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        const mid = i === 0 ? 1 : Math.pow(GROWTH, i + 0.5);
        return Math.min(this.max, Math.max(this.min, mid));
      }
    }
    return this.max;
  }
}

export interface LatencySummary {
  avg: number; min: number; p50: number; p90: number; p95: number; p99: number; p999: number; max: number;
}

/** Rounded to whole microseconds, the unit perf_analyzer reports in. */
export function summarize(h: Histogram): LatencySummary {
  const r = Math.round;
  return {
    avg: r(h.mean()), min: h.count ? r(h.min) : 0,
    p50: r(h.quantile(0.5)), p90: r(h.quantile(0.9)), p95: r(h.quantile(0.95)),
    p99: r(h.quantile(0.99)), p999: r(h.quantile(0.999)), max: r(h.max),
  };
}
