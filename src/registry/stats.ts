/**
 * Triton statistics-extension counters for one model version. Updated on the main
 * thread as requests finish; read by the statistics endpoints and the metrics
 * exporter, so both report the same counts.
 */
import type { ModelStatistics, StatDuration } from '../types/inference.js';

const dur = (): StatDuration => ({ count: 0, ns: 0 });

/**
 * Receives every recorded event as it happens (metrics histograms, drift). Set
 * once per version when it becomes READY, so the request path does no lookups.
 */
export interface StatsSink {
  success(batchSize: number, totalNs: number, queueNs: number, inNs: number, inferNs: number, outNs: number): void;
  failure(totalNs: number, reason: FailureReason): void;
  execution(batchSize: number, inNs: number, inferNs: number, outNs: number): void;
}

/** Triton's nv_inference_request_failure reasons. */
export type FailureReason = 'REJECTED' | 'CANCELED' | 'BACKEND' | 'OTHER';

interface BatchStat { compute_input: StatDuration; compute_infer: StatDuration; compute_output: StatDuration }

export class VersionStats {
  lastInference = 0;
  inferenceCount = 0;
  executionCount = 0;
  readonly success = dur();
  readonly fail = dur();
  readonly queue = dur();
  readonly computeInput = dur();
  readonly computeInfer = dur();
  readonly computeOutput = dur();
  readonly cacheHit = dur();
  readonly cacheMiss = dur();
  readonly #batches = new Map<number, BatchStat>();
  sink: StatsSink | undefined = undefined;

  /** One request finished successfully after `totalNs` in the server. */
  recordSuccess(batchSize: number, totalNs: number, queueNs: number, inNs: number, inferNs: number, outNs: number): void {
    this.lastInference = Date.now();
    this.inferenceCount += batchSize;
    add(this.success, totalNs);
    add(this.queue, queueNs);
    add(this.computeInput, inNs);
    add(this.computeInfer, inferNs);
    add(this.computeOutput, outNs);
    this.sink?.success(batchSize, totalNs, queueNs, inNs, inferNs, outNs);
  }

  /** A response served from the cache: counts as a success with no compute. */
  recordCacheHit(batchSize: number, totalNs: number, lookupNs: number): void {
    this.lastInference = Date.now();
    this.inferenceCount += batchSize;
    add(this.success, totalNs);
    add(this.cacheHit, lookupNs);
  }

  recordCacheMiss(lookupNs: number): void {
    add(this.cacheMiss, lookupNs);
  }

  recordFailure(totalNs: number, reason: FailureReason): void {
    this.lastInference = Date.now();
    add(this.fail, totalNs);
    this.sink?.failure(totalNs, reason);
  }

  /** One model execution of `batchSize` rows. */
  recordExecution(batchSize: number, inNs: number, inferNs: number, outNs: number): void {
    this.executionCount++;
    let b = this.#batches.get(batchSize);
    if (b === undefined) {
      b = { compute_input: dur(), compute_infer: dur(), compute_output: dur() };
      this.#batches.set(batchSize, b);
    }
    add(b.compute_input, inNs);
    add(b.compute_infer, inferNs);
    add(b.compute_output, outNs);
    this.sink?.execution(batchSize, inNs, inferNs, outNs);
  }

  snapshot(name: string, version: string): ModelStatistics {
    const c = (d: StatDuration): StatDuration => ({ count: d.count, ns: d.ns });
    return {
      name,
      version,
      last_inference: this.lastInference,
      inference_count: this.inferenceCount,
      execution_count: this.executionCount,
      inference_stats: {
        success: c(this.success), fail: c(this.fail), queue: c(this.queue),
        compute_input: c(this.computeInput), compute_infer: c(this.computeInfer), compute_output: c(this.computeOutput),
        cache_hit: c(this.cacheHit), cache_miss: c(this.cacheMiss),
      },
      batch_stats: [...this.#batches.entries()].sort((a, b) => a[0] - b[0]).map(([size, b]) => ({
        batch_size: size, compute_input: c(b.compute_input), compute_infer: c(b.compute_infer), compute_output: c(b.compute_output),
      })),
      memory_usage: [],
    };
  }
}

function add(d: StatDuration, ns: number): void {
  d.count++;
  d.ns += ns;
}
