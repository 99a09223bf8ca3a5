/**
 * A sliding window of request outcomes for one route: count, errors, and a
 * log-bucket latency histogram, kept as a ring of `SLOTS` sub-windows so the window
 * slides in steps of window/SLOTS without keeping samples. Recording is O(1) and
 * allocation-free (main thread, request path); a snapshot sums the live slots.
 *
 * Latency buckets: 8 per octave of microseconds (bucket i covers
 * [2^(i/8), 2^((i+1)/8)) us, ~9% wide), from 1 us to 2^32 us (~72 min); a
 * quantile is reported as its bucket's geometric midpoint, so it is within ~5% of
 * the exact value. That is precise enough for a ratio guardrail like "p99 more
 * than 2x the baseline's".
 */

export const SLOTS = 10;
const PER_OCTAVE = 8;
export const LATENCY_BUCKETS = 32 * PER_OCTAVE;

export interface WindowSnapshot {
  samples: number;
  errors: number;
  /** errors / samples; 0 without samples. */
  error_rate: number;
  /** Latency quantiles of successful requests, milliseconds; 0 without any. */
  p50_ms: number;
  p99_ms: number;
}

function bucketOf(ms: number): number {
  const us = ms * 1000;
  if (!(us > 1)) return 0;
  const b = Math.floor(Math.log2(us) * PER_OCTAVE);
  return b >= LATENCY_BUCKETS ? LATENCY_BUCKETS - 1 : b;
}

/** Geometric midpoint of a bucket, in milliseconds. */
function bucketMs(b: number): number {
  return 2 ** ((b + 0.5) / PER_OCTAVE) / 1000;
}

export class SlidingWindow {
  readonly windowMs: number;
  readonly #slotMs: number;
  /** Sub-window index (floor(now / slotMs)) each slot currently holds. */
  readonly #epoch = new Float64Array(SLOTS).fill(-1);
  readonly #count = new Float64Array(SLOTS);
  readonly #errors = new Float64Array(SLOTS);
  /** SLOTS x LATENCY_BUCKETS counts of successful requests. */
  readonly #hist = new Uint32Array(SLOTS * LATENCY_BUCKETS);

  constructor(windowMs: number) {
    this.windowMs = windowMs;
    this.#slotMs = windowMs / SLOTS;
  }

  #slot(now: number): number {
    const e = Math.floor(now / this.#slotMs);
    const s = e % SLOTS;
    if (this.#epoch[s] !== e) {
      this.#epoch[s] = e;
      this.#count[s] = 0;
      this.#errors[s] = 0;
      this.#hist.fill(0, s * LATENCY_BUCKETS, (s + 1) * LATENCY_BUCKETS);
    }
    return s;
  }

  /** One finished request at time `now` (ms, monotonic). */
  record(ok: boolean, latencyMs: number, now: number): void {
    const s = this.#slot(now);
    this.#count[s]!++;
    if (!ok) this.#errors[s]!++;
    else this.#hist[s * LATENCY_BUCKETS + bucketOf(latencyMs)]!++;
  }

  /** The last window (between (SLOTS-1)/SLOTS and a full window of history). */
  snapshot(now: number): WindowSnapshot {
    const cur = Math.floor(now / this.#slotMs);
    let samples = 0;
    let errors = 0;
    const live: number[] = [];
    for (let s = 0; s < SLOTS; s++) {
      const e = this.#epoch[s]!;
      if (e < 0 || e > cur || e <= cur - SLOTS) continue;
      samples += this.#count[s]!;
      errors += this.#errors[s]!;
      live.push(s);
    }
    const ok = samples - errors;
    return {
      samples,
      errors,
      error_rate: samples > 0 ? errors / samples : 0,
      p50_ms: ok > 0 ? this.#quantile(live, ok, 0.5) : 0,
      p99_ms: ok > 0 ? this.#quantile(live, ok, 0.99) : 0,
    };
  }

  #quantile(live: readonly number[], n: number, q: number): number {
    const rank = Math.ceil(q * n);
    let acc = 0;
    for (let b = 0; b < LATENCY_BUCKETS; b++) {
      for (const s of live) acc += this.#hist[s * LATENCY_BUCKETS + b]!;
      if (acc >= rank) return bucketMs(b);
    }
    return bucketMs(LATENCY_BUCKETS - 1);
  }
}
