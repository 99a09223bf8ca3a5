/** The worker pool's options, and what each worker is started with (./pool.ts). */
import type { SequenceRun } from '../types/run.js';
import type { WorkerTuning } from '../worker/channel-worker.js';
import type { RunEstimate } from './estimate.js';

export interface WorkerPoolOptions {
  /** Threads the pool may grow to as instances are allocated. Default: the initial count (fixed). */
  maxWorkers?: number;
  /** Requests handed to a worker at once (a power of two). Default 4. */
  slots?: number;
  /** Tensor bytes a request (inputs) or response (outputs) may carry inline in shared memory; larger ones go over the port, transferred. Default INLINE_BYTES. */
  inlineBytes?: number;
  /** Hot hand-off: how long an idle worker polls for the next request at concurrency 1 (us). 0 turns the hot hand-off off. Default 500. */
  spinUs?: number;
  /**
   * Hot hand-off: how long a worker polls for the rest of a burst (us, at most spinUs).
   * Reading a 64-message stream takes ~170 us, so its second batch comes that long
   * after the first; 64 HTTP/JSON requests that a load generator's connections send in
   * step take ~1 ms to read, and a poll that long takes a core the client wants.
   * Default 300.
   */
  burstSpinUs?: number;
  /**
   * Hot hand-off: a poll (either side) that finds it lost its core to another thread
   * stops, and nothing polls for ~256 ms, doubling up to ~2 s while that goes on
   * (`hotQuiet`, `markContended` in ../worker/hint.ts).
   * Default true; tests that watch a worker poll turn it off.
   */
  spinRest?: boolean;
  /** Nice levels the workers run below the main thread (Linux; see ../worker/nice.ts). Default 0. */
  nice?: number;
  /**
   * --max-response-bytes: the most output bytes one request may get. Checked on the
   * worker before outputs cross to this thread (see `run`). Default: no limit.
   */
  maxResponseBytes?: number;
}

/** What a run needs beyond its inputs and outputs. */
export interface RunOptions {
  /** The batch's rows, and the rows of its largest request (the worker checks --max-response-bytes on its share). */
  rows?: number;
  largest?: number;
  seq?: SequenceRun;
  /** The version's run-duration estimate: read for the hot hand-off and the solo flag. */
  estimate?: RunEstimate;
}

/** The workers' tuning, defaults applied. */
export function workerTuning(options: WorkerPoolOptions): WorkerTuning {
  const spinUs = Math.max(0, options.spinUs ?? 500);
  return {
    spinUs, burstSpinUs: Math.min(spinUs, Math.max(0, options.burstSpinUs ?? 300)),
    spinRest: options.spinRest ?? true, maxResponseBytes: options.maxResponseBytes ?? Infinity, nice: Math.max(0, options.nice ?? 0),
  };
}
