/**
 * One queued inference: the batcher's item. A class (not an object literal) so every
 * request has the same shape, and the promise callbacks are stored rather than
 * captured in per-request closures beyond the one Promise executor.
 */
import type { PreparedInput } from './prepare.js';
import type { RequestedOutput } from '../types/inference.js';
import type { CancelSignal } from '../types/cancel.js';
import type { Tensor } from '../types/tensor.js';

export interface PendingResult {
  outputs: Tensor[];
  /** ns spent queued, and this request's share of the batch's compute times. */
  queueNs: number;
  computeInputNs: number;
  computeInferNs: number;
  computeOutputNs: number;
}

export class PendingInfer {
  readonly inputs: PreparedInput[];
  readonly outputs: RequestedOutput[];
  readonly batchSize: number;
  readonly shapeKey: string;
  readonly priority: number;
  readonly timeoutUs: number;
  readonly deadline: number;
  readonly signal: CancelSignal | undefined;
  readonly enqueuedAt: number;
  readonly promise: Promise<PendingResult>;
  resolve!: (r: PendingResult) => void;
  reject!: (e: Error) => void;

  constructor(
    inputs: PreparedInput[], outputs: RequestedOutput[], batchSize: number, shapeKey: string,
    priority: number, timeoutUs: number, deadline: number, signal: CancelSignal | undefined,
  ) {
    this.inputs = inputs;
    this.outputs = outputs;
    this.batchSize = batchSize;
    this.shapeKey = shapeKey;
    this.priority = priority;
    this.timeoutUs = timeoutUs;
    this.deadline = deadline;
    this.signal = signal;
    this.enqueuedAt = performance.now();
    this.promise = new Promise<PendingResult>((res, rej) => { this.resolve = res; this.reject = rej; });
  }
}
