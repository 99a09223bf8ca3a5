/** Shapes shared across the load generator, its report and the baselines. */

export interface TensorSpec {
  name: string;
  /** KServe datatype without TYPE_ (FP32, INT32, BYTES...). */
  datatype: string;
  /** As metadata gives it: -1 for variable dims, batch dim included when batching. */
  shape: number[];
}

export interface ModelInfo {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** From the model config when the server exposes it; else inferred from metadata shapes. */
  maxBatchSize: number;
}

export interface StatDuration {
  count: number;
  ns: number;
}

/** One reading of Triton's statistics extension for a model, summed over its versions. */
export interface StatsSnapshot {
  inferenceCount: number;
  executionCount: number;
  success: StatDuration;
  fail: StatDuration;
  queue: StatDuration;
  computeInput: StatDuration;
  computeInfer: StatDuration;
  computeOutput: StatDuration;
}

export type Protocol = 'http' | 'grpc';
