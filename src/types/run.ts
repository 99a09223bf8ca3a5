/**
 * What one model run hands across a thread and gets back: the tensor form that
 * crosses the worker boundary (its buffer is transferred, not copied) and the run's
 * timing. Here, below both the request model and the worker, so neither has to
 * import the other to agree on them.
 */
import type { DataType } from './tensor.js';

export interface WireTensor {
  name: string;
  datatype: DataType;
  shape: number[];
  /** Triton raw layout; owned by the receiver (transferred). */
  buffer: ArrayBuffer;
}

/** ns spent feeding inputs, in InferenceSession.run, and reading outputs. */
export interface RunTiming { inputNs: number; inferNs: number; outputNs: number }
