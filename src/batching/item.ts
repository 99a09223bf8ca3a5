/**
 * What the dynamic batcher is given and gives back: the tensor-free request it
 * queues (`BatchItem`), its options, the run function it calls, its totals.
 */
import type { DynamicBatchingConfig } from '../config/model-config.js';
import type { CancelSignal } from '../types/cancel.js';

export interface BatchItem<R> {
  /** Leading dim of this request (1 for non-batching models). */
  readonly batchSize: number;
  /** Requests may share a batch only when equal (non-batch shapes + datatypes). */
  readonly shapeKey: string;
  /** Request `priority` parameter; 0 = the default level. */
  readonly priority: number;
  /** Request `timeout` parameter in us; 0 = none (honoured per allow_timeout_override). */
  readonly timeoutUs: number;
  /** Absolute ms on the batcher's clock; Infinity = none (client deadline). */
  readonly deadline: number;
  /** Client cancel/disconnect: the request is dropped if still queued. */
  readonly signal?: CancelSignal;
  resolve(result: R): void;
  reject(err: Error): void;
}

/** Per-dispatch hook arguments: `queueNs[i]` is the queue time of `batch[i]`. */
export type DispatchHook<T> = (
  batch: readonly T[], queueNs: ArrayLike<number>, batchSize: number,
) => void;

export interface BatcherOptions<T = BatchItem<unknown>> {
  /** 0 => no batching: every request is dispatched alone. */
  maxBatchSize: number;
  /** undefined => no dynamic_batching: each request runs alone, FIFO, on the next free instance. */
  dynamic?: DynamicBatchingConfig;
  /** Max batches in flight at once (one per model instance). */
  instances: number;
  /**
   * Batches formed ahead: each instance may have this many more batches handed to it
   * while it runs one, so it starts the next the moment it finishes instead of idling
   * while this thread hears of it, answers, and forms the next batch from the requests
   * that come back (see ModelVersion's `osprey_batches_ahead`). Default 0: Triton's
   * rule, a batch is formed only when an instance is free. A batch formed ahead is out
   * of the queue: its requests no longer time out there, and a higher-priority request
   * that arrives later runs after it.
   */
  ahead?: number;
  /**
   * When set, a batch that would be held open for max_queue_delay goes at once while
   * this says the server is at concurrency 1 (ModelVersion: the model config's
   * Osprey-only `osprey_quiet_dispatch`; the executor's `serverQuiet`): no other
   * request is in the server, nor was beside another for the last ~50 ms, so the delay
   * could gather nothing and would only add itself to every request's latency. Default
   * unset: Triton's rule, a batch below the preferred sizes waits out the delay.
   */
  quiet?: () => boolean;
  /** Estimate of a batch's run time (ms), for deadline feasibility. Default 0. */
  expectedRunMs?: () => number;
  /** Clock in ms. Default performance.now. */
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  /**
   * Batch what arrives in one turn together: when set (and the model batches), a
   * request that finds an instance free is not dispatched at once; `coalesce(flush)`
   * schedules one flush (ModelVersion: setImmediate, after the event loop's current
   * I/O callbacks) that forms the batch from everything queued by then. Not used
   * for models without batching, nor with a max_queue_size (see the constructor).
   * Default unset: dispatch inside `enqueue` (the unit tests' deterministic clock).
   */
  coalesce?: (flush: () => void) => void;
  clearTimer?: (handle: unknown) => void;
  /**
   * Called synchronously just before `run` with each request's queue time in ns (what
   * Triton's statistics call `queue`). `queueNs` is reused: read it during the call only;
   * it may be longer than `batch`.
   */
  onDispatch?: DispatchHook<T>;
  /**
   * Where an exception thrown by an item's resolve/reject goes. The batcher catches it
   * so the other requests of the batch are still answered and the queue keeps its
   * state; by default it is rethrown from a microtask so it is not silently lost.
   */
  onCallbackError?: (err: unknown) => void;
}

/** One result per item, same order; an Error fails just that item. */
export type RunBatch<T, R> = (batch: T[]) => Promise<(R | Error)[]>;

/** Running totals since construction (Triton's execution/inference counts, queue time). */
export interface BatcherStats {
  /** Batches run. */
  executions: number;
  /** Sum of the batch sizes run (rows). */
  inferences: number;
  /** Requests run. */
  requests: number;
  /** Total queue time of the requests run, ns. */
  queueNs: number;
  /** Requests the batcher answered without running them (full, timeout, deadline, cancel, close). */
  rejected: number;
}
