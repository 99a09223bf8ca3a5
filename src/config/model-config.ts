/**
 * inference.ModelConfig in its proto JSON form (proto field names, enum values as
 * strings). The same object is what `/config` returns, what the gRPC ModelConfig
 * RPC encodes, and what the rest of the server reads after normalization; it is
 * deep-frozen once validated.
 */

export type ConfigDataType =
  | 'TYPE_INVALID' | 'TYPE_BOOL' | 'TYPE_UINT8' | 'TYPE_UINT16' | 'TYPE_UINT32' | 'TYPE_UINT64'
  | 'TYPE_INT8' | 'TYPE_INT16' | 'TYPE_INT32' | 'TYPE_INT64' | 'TYPE_FP16' | 'TYPE_FP32'
  | 'TYPE_FP64' | 'TYPE_STRING' | 'TYPE_BF16';

export interface ModelInputConfig {
  name: string;
  data_type: ConfigDataType;
  format: 'FORMAT_NONE' | 'FORMAT_NHWC' | 'FORMAT_NCHW';
  dims: number[];
  reshape?: { shape: number[] };
  is_shape_tensor: boolean;
  allow_ragged_batch: boolean;
  optional: boolean;
}

export interface ModelOutputConfig {
  name: string;
  data_type: ConfigDataType;
  dims: number[];
  label_filename: string;
  reshape?: { shape: number[] };
  is_shape_tensor: boolean;
}

export type VersionPolicy =
  | { latest: { num_versions: number } }
  | { all: Record<string, never> }
  | { specific: { versions: number[] } };

export interface InstanceGroupConfig {
  name: string;
  kind: 'KIND_AUTO' | 'KIND_GPU' | 'KIND_CPU' | 'KIND_MODEL';
  count: number;
  gpus: number[];
}

export interface QueuePolicyConfig {
  timeout_action: 'REJECT' | 'DELAY';
  default_timeout_microseconds: number;
  allow_timeout_override: boolean;
  max_queue_size: number;
}

export interface DynamicBatchingConfig {
  preferred_batch_size: number[];
  max_queue_delay_microseconds: number;
  preserve_ordering: boolean;
  priority_levels: number;
  default_priority_level: number;
  default_queue_policy?: QueuePolicyConfig;
  /** Keyed by priority level (decimal string, as proto JSON maps keys). */
  priority_queue_policy: Record<string, QueuePolicyConfig>;
}

/** ModelSequenceBatching.Control: how one control input carries its signal. */
export interface SequenceControlConfig {
  kind: 'CONTROL_SEQUENCE_START' | 'CONTROL_SEQUENCE_READY' | 'CONTROL_SEQUENCE_END' | 'CONTROL_SEQUENCE_CORRID';
  int32_false_true: number[];
  fp32_false_true: number[];
  bool_false_true: boolean[];
  /** CORRID only: the tensor type of the correlation id. */
  data_type: ConfigDataType;
}

export interface SequenceControlInputConfig {
  name: string;
  control: SequenceControlConfig[];
}

export interface SequenceInitialStateConfig {
  data_type: ConfigDataType;
  dims: number[];
  zero_data?: boolean;
  data_file?: string;
  name: string;
}

/** ModelSequenceBatching.State: an implicit state carried from one request of a sequence to the next. */
export interface SequenceStateConfig {
  input_name: string;
  output_name: string;
  data_type: ConfigDataType;
  dims: number[];
  initial_state: SequenceInitialStateConfig[];
  use_same_buffer_for_input_output: boolean;
  use_growable_memory: boolean;
}

export interface SequenceStrategyDirect {
  max_queue_delay_microseconds: number;
  minimum_slot_utilization: number;
}

export interface SequenceStrategyOldest {
  max_candidate_sequences: number;
  preferred_batch_size: number[];
  max_queue_delay_microseconds: number;
  preserve_ordering: boolean;
}

export interface SequenceBatchingConfig {
  /** 0 in the file becomes 1000000 (Triton's default). */
  max_sequence_idle_microseconds: number;
  control_input: SequenceControlInputConfig[];
  /** Exactly one of direct/oldest after completion (direct by default). */
  direct?: SequenceStrategyDirect;
  oldest?: SequenceStrategyOldest;
  state: SequenceStateConfig[];
}

export interface WarmupInputConfig {
  data_type: ConfigDataType;
  dims: number[];
  zero_data?: boolean;
  random_data?: boolean;
  input_data_file?: string;
}

export interface ModelWarmupConfig {
  name: string;
  batch_size: number;
  inputs: Record<string, WarmupInputConfig>;
  count: number;
}

export interface AcceleratorConfig { name: string; parameters: Record<string, string> }

export interface OptimizationConfig {
  graph?: { level: number };
  execution_accelerators?: {
    gpu_execution_accelerator: AcceleratorConfig[];
    cpu_execution_accelerator: AcceleratorConfig[];
  };
}

export interface ModelConfig {
  name: string;
  platform: string;
  backend: string;
  version_policy: VersionPolicy;
  max_batch_size: number;
  input: ModelInputConfig[];
  output: ModelOutputConfig[];
  instance_group: InstanceGroupConfig[];
  default_model_filename: string;
  metric_tags: Record<string, string>;
  dynamic_batching?: DynamicBatchingConfig;
  sequence_batching?: SequenceBatchingConfig;
  optimization?: OptimizationConfig;
  parameters: Record<string, { string_value: string }>;
  model_warmup: ModelWarmupConfig[];
  response_cache?: { enable: boolean };
}

/** Input/output signature read from the ONNX model by a worker (dims: -1 = dynamic). */
export interface OnnxTensorInfo {
  name: string;
  /** Config datatype, e.g. TYPE_FP32; TYPE_INVALID when the ONNX type has no Triton mapping. */
  data_type: ConfigDataType;
  dims: number[];
}

export interface OnnxModelInfo {
  inputs: OnnxTensorInfo[];
  outputs: OnnxTensorInfo[];
}

/** Every field optional, recursively: what a config file or JSON override gives. */
export type DeepPartial<T> =
  T extends readonly (infer U)[] ? DeepPartial<U>[]
    : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> }
      : T;

/**
 * A config as read from config.pbtxt or the load API's JSON, before auto-complete:
 * a field is present only when the source set it (so "unset" and "0" differ).
 */
export type PartialModelConfig = DeepPartial<ModelConfig>;
