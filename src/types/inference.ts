import type { CancelSignal } from './cancel.js';
import type { DataType, Params, ShmRef, Tensor } from './tensor.js';

export interface RequestedOutput {
  name: string;
  /** Output parameters, e.g. `classification: k`, `binary_data: true`. */
  parameters?: Params;
  /** Write this output into a shared-memory region instead of the response. */
  shm?: ShmRef;
}

/** What every front end decodes into and the data plane consumes. */
export interface InferenceRequest {
  modelName: string;
  /** '' means "the version the policy serves". Decimal digits otherwise. */
  modelVersion: string;
  id: string;
  parameters: Params;
  inputs: Tensor[];
  /** undefined: every output of the model. */
  outputs?: RequestedOutput[];
  /** Absolute deadline in `performance.now()` milliseconds; Infinity when none. */
  deadline: number;
  /** Aborted when the client disconnects or cancels. */
  signal?: CancelSignal;
  /**
   * Request headers (HTTP) or metadata (gRPC) the data plane asked the front end to
   * capture (`DataPlane.routingHeader`: a sticky routing key); lower-case names.
   */
  headers?: Readonly<Record<string, string>>;
  /** Some input or output names a shared-memory region (set by the codecs). */
  sharedMemory?: boolean;
  /**
   * HTTP `Inference-Header-Content-Length: 0`: the body is the raw data of the
   * model's only input, `inputs` is empty, and the data plane makes the input from
   * the metadata of the version it resolves (once: a traffic policy could pick
   * another version, with another signature, on a second resolution).
   */
  rawBody?: Uint8Array;
}

export interface InferenceResponse {
  modelName: string;
  modelVersion: string;
  id: string;
  parameters?: Params;
  /** In the order requested (or model order when no outputs were requested). */
  outputs: Tensor[];
}

export interface TensorMetadata {
  name: string;
  datatype: DataType;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

export type ModelState = 'UNKNOWN' | 'READY' | 'UNAVAILABLE' | 'LOADING' | 'UNLOADING';

export interface ModelIndexEntry {
  name: string;
  version?: string;
  state: ModelState;
  reason?: string;
}

/** A repository index row as both wires carry it: a model never loaded (state UNKNOWN) is its name alone. */
export type ModelIndexRow = ModelIndexEntry | { name: string };

export interface StatDuration { count: number; ns: number }

/** Triton's statistics extension, one entry per model version (JSON field names). */
export interface ModelStatistics {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: {
    success: StatDuration; fail: StatDuration; queue: StatDuration;
    compute_input: StatDuration; compute_infer: StatDuration; compute_output: StatDuration;
    cache_hit: StatDuration; cache_miss: StatDuration;
  };
  batch_stats: Array<{
    batch_size: number;
    compute_input: StatDuration; compute_infer: StatDuration; compute_output: StatDuration;
  }>;
  memory_usage: Array<{ type: string; id: number; byte_size: number }>;
}

export interface LoadOptions {
  /** JSON text of a ModelConfig that replaces config.pbtxt. */
  config?: string;
  /** `file:<version>/<name>` contents, keyed without the `file:` prefix. */
  files?: Map<string, Uint8Array>;
}
