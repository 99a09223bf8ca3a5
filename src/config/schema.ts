/**
 * The `inference.ModelConfig` schema as data: field names, types, enum values
 * (an enum value's number is its index). The text-format reader and the JSON
 * reader both walk it, so the two accept exactly the same fields.
 *
 * Fields Triton has but Osprey does not act on are listed as `ignored`: they
 * parse (any value) and are dropped, so repositories written for Triton load.
 * Anything not listed here is an unknown field.
 */

export type ScalarType = 'string' | 'bool' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float';

export type FieldType =
  | { kind: 'scalar'; type: ScalarType }
  | { kind: 'enum'; name: string; values: readonly string[] }
  | { kind: 'message'; message: MessageSchema }
  | { kind: 'map'; key: 'string' | 'uint64'; value: FieldType }
  | { kind: 'ignored' };

export interface FieldSchema { type: FieldType; repeated?: boolean }

export interface MessageSchema {
  /** Full proto name, for error messages. */
  name: string;
  fields: Readonly<Record<string, FieldSchema>>;
  /** Groups of fields of which at most one may be set. */
  oneofs?: readonly (readonly string[])[];
}

const s = (type: ScalarType): FieldSchema => ({ type: { kind: 'scalar', type } });
const list = (type: ScalarType): FieldSchema => ({ type: { kind: 'scalar', type }, repeated: true });
const msg = (message: MessageSchema, repeated = false): FieldSchema =>
  ({ type: { kind: 'message', message }, repeated });
const enm = (name: string, values: readonly string[]): FieldSchema =>
  ({ type: { kind: 'enum', name, values } });
const map = (key: 'string' | 'uint64', value: FieldType): FieldSchema =>
  ({ type: { kind: 'map', key, value } });
const ignored: FieldSchema = { type: { kind: 'ignored' } };
const empty = (name: string): MessageSchema => ({ name, fields: {} });

export const DATA_TYPE_VALUES = [
  'TYPE_INVALID', 'TYPE_BOOL', 'TYPE_UINT8', 'TYPE_UINT16', 'TYPE_UINT32', 'TYPE_UINT64',
  'TYPE_INT8', 'TYPE_INT16', 'TYPE_INT32', 'TYPE_INT64', 'TYPE_FP16', 'TYPE_FP32',
  'TYPE_FP64', 'TYPE_STRING', 'TYPE_BF16',
] as const;

const dataType = enm('inference.DataType', DATA_TYPE_VALUES);

const reshape: MessageSchema = { name: 'inference.ModelTensorReshape', fields: { shape: list('int64') } };

const modelInput: MessageSchema = {
  name: 'inference.ModelInput',
  fields: {
    name: s('string'),
    data_type: dataType,
    format: enm('inference.ModelInput.Format', ['FORMAT_NONE', 'FORMAT_NHWC', 'FORMAT_NCHW']),
    dims: list('int64'),
    reshape: msg(reshape),
    is_shape_tensor: s('bool'),
    allow_ragged_batch: s('bool'),
    optional: s('bool'),
    is_non_linear_format_io: ignored, // TensorRT-only
  },
};

const modelOutput: MessageSchema = {
  name: 'inference.ModelOutput',
  fields: {
    name: s('string'),
    data_type: dataType,
    dims: list('int64'),
    reshape: msg(reshape),
    label_filename: s('string'),
    is_shape_tensor: s('bool'),
    is_non_linear_format_io: ignored, // TensorRT-only
  },
};

const versionPolicy: MessageSchema = {
  name: 'inference.ModelVersionPolicy',
  fields: {
    latest: msg({ name: 'inference.ModelVersionPolicy.Latest', fields: { num_versions: s('uint32') } }),
    all: msg(empty('inference.ModelVersionPolicy.All')),
    specific: msg({ name: 'inference.ModelVersionPolicy.Specific', fields: { versions: list('int64') } }),
  },
  oneofs: [['latest', 'all', 'specific']],
};

const instanceGroup: MessageSchema = {
  name: 'inference.ModelInstanceGroup',
  fields: {
    name: s('string'),
    kind: enm('inference.ModelInstanceGroup.Kind', ['KIND_AUTO', 'KIND_GPU', 'KIND_CPU', 'KIND_MODEL']),
    count: s('int32'),
    gpus: list('int32'),
    // GPU/TensorRT/rate-limiter details: meaningless for ONNX Runtime on CPU.
    rate_limiter: ignored,
    secondary_devices: ignored,
    profile: ignored,
    passive: ignored,
    host_policy: ignored,
  },
};

const queuePolicy: MessageSchema = {
  name: 'inference.ModelQueuePolicy',
  fields: {
    timeout_action: enm('inference.ModelQueuePolicy.TimeoutAction', ['REJECT', 'DELAY']),
    default_timeout_microseconds: s('uint64'),
    allow_timeout_override: s('bool'),
    max_queue_size: s('uint32'),
  },
};

const dynamicBatching: MessageSchema = {
  name: 'inference.ModelDynamicBatching',
  fields: {
    preferred_batch_size: list('int32'),
    max_queue_delay_microseconds: s('uint64'),
    preserve_ordering: s('bool'),
    priority_levels: s('uint64'),
    default_priority_level: s('uint64'),
    default_queue_policy: msg(queuePolicy),
    priority_queue_policy: map('uint64', { kind: 'message', message: queuePolicy }),
  },
};

const sequenceControl: MessageSchema = {
  name: 'inference.ModelSequenceBatching.Control',
  fields: {
    kind: enm('inference.ModelSequenceBatching.Control.Kind', [
      'CONTROL_SEQUENCE_START', 'CONTROL_SEQUENCE_READY', 'CONTROL_SEQUENCE_END', 'CONTROL_SEQUENCE_CORRID',
    ]),
    int32_false_true: list('int32'),
    fp32_false_true: list('float'),
    bool_false_true: list('bool'),
    data_type: dataType,
  },
};

const initialState: MessageSchema = {
  name: 'inference.ModelSequenceBatching.InitialState',
  fields: {
    data_type: dataType,
    dims: list('int64'),
    zero_data: s('bool'),
    data_file: s('string'),
    name: s('string'),
  },
  oneofs: [['zero_data', 'data_file']],
};

const sequenceBatching: MessageSchema = {
  name: 'inference.ModelSequenceBatching',
  fields: {
    max_sequence_idle_microseconds: s('uint64'),
    control_input: msg({
      name: 'inference.ModelSequenceBatching.ControlInput',
      fields: { name: s('string'), control: msg(sequenceControl, true) },
    }, true),
    direct: msg({
      name: 'inference.ModelSequenceBatching.StrategyDirect',
      fields: { max_queue_delay_microseconds: s('uint64'), minimum_slot_utilization: s('float') },
    }),
    oldest: msg({
      name: 'inference.ModelSequenceBatching.StrategyOldest',
      fields: {
        max_candidate_sequences: s('int32'),
        preferred_batch_size: list('int32'),
        max_queue_delay_microseconds: s('uint64'),
        preserve_ordering: s('bool'),
      },
    }),
    state: msg({
      name: 'inference.ModelSequenceBatching.State',
      fields: {
        input_name: s('string'),
        output_name: s('string'),
        data_type: dataType,
        dims: list('int64'),
        initial_state: msg(initialState, true),
        use_same_buffer_for_input_output: s('bool'),
        use_growable_memory: s('bool'),
      },
    }, true),
    // Iterative (LLM-style) rescheduling: decoupled models only, which Osprey does not serve.
    iterative_sequence: ignored,
  },
  oneofs: [['direct', 'oldest']],
};

const warmupInput: MessageSchema = {
  name: 'inference.ModelWarmup.Input',
  fields: {
    data_type: dataType,
    dims: list('int64'),
    zero_data: s('bool'),
    random_data: s('bool'),
    input_data_file: s('string'),
  },
  oneofs: [['zero_data', 'random_data', 'input_data_file']],
};

const warmup: MessageSchema = {
  name: 'inference.ModelWarmup',
  fields: {
    name: s('string'),
    batch_size: s('uint32'),
    inputs: map('string', { kind: 'message', message: warmupInput }),
    count: s('uint32'),
  },
};

const accelerator: MessageSchema = {
  name: 'inference.ModelOptimizationPolicy.ExecutionAccelerators.Accelerator',
  fields: { name: s('string'), parameters: map('string', { kind: 'scalar', type: 'string' }) },
};

const optimization: MessageSchema = {
  name: 'inference.ModelOptimizationPolicy',
  fields: {
    graph: msg({ name: 'inference.ModelOptimizationPolicy.Graph', fields: { level: s('int32') } }),
    execution_accelerators: msg({
      name: 'inference.ModelOptimizationPolicy.ExecutionAccelerators',
      fields: {
        gpu_execution_accelerator: msg(accelerator, true),
        cpu_execution_accelerator: msg(accelerator, true),
      },
    }),
    // Scheduling/CUDA/pinned-memory knobs of Triton's own runtime; no effect here.
    priority: ignored,
    cuda: ignored,
    input_pinned_memory: ignored,
    output_pinned_memory: ignored,
    gather_kernel_buffer_threshold: ignored,
    eager_batching: ignored,
  },
};

const parameter: MessageSchema = { name: 'inference.ModelParameter', fields: { string_value: s('string') } };

export const MODEL_CONFIG_SCHEMA: MessageSchema = {
  name: 'inference.ModelConfig',
  fields: {
    name: s('string'),
    platform: s('string'),
    backend: s('string'),
    version_policy: msg(versionPolicy),
    max_batch_size: s('int32'),
    input: msg(modelInput, true),
    output: msg(modelOutput, true),
    instance_group: msg(instanceGroup, true),
    default_model_filename: s('string'),
    metric_tags: map('string', { kind: 'scalar', type: 'string' }),
    dynamic_batching: msg(dynamicBatching),
    optimization: msg(optimization),
    parameters: map('string', { kind: 'message', message: parameter }),
    model_warmup: msg(warmup, true),
    response_cache: msg({ name: 'inference.ModelResponseCache', fields: { enable: s('bool') } }),
    sequence_batching: msg(sequenceBatching),
    // Accepted so Triton repositories load; Osprey has no ensembles or decoupled
    // transactions, so they are dropped.
    ensemble_scheduling: ignored,
    model_transaction_policy: ignored,
    // Triton runtime plumbing with no effect on an ONNX Runtime CPU model.
    runtime: ignored,
    model_repository_agents: ignored,
    cc_model_filenames: ignored,
    model_metrics: ignored,
  },
  // Triton's `scheduling_choice` oneof (ensembles are ignored here, so not listed).
  oneofs: [['dynamic_batching', 'sequence_batching']],
};

const INT_RANGES: Readonly<Record<string, readonly [bigint, bigint]>> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

/**
 * An integer as a JS number, or an error text. 64-bit values beyond 2^53 are
 * refused rather than silently rounded: every consumer here works in numbers.
 */
export function intValue(type: ScalarType, v: bigint): number | string {
  const range = INT_RANGES[type];
  if (range && (v < range[0] || v > range[1])) {
    return type.startsWith('u') && v < 0n
      ? `expected a non-negative integer, found ${v}`
      : `value ${v} is out of range for ${type}`;
  }
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    return `value ${v} is too large (the limit is ${Number.MAX_SAFE_INTEGER})`;
  }
  return Number(v);
}

/** An enum value given by number: its name, or undefined when out of range. */
export function enumByNumber(values: readonly string[], n: bigint): string | undefined {
  return n >= 0n && n < BigInt(values.length) ? values[Number(n)] : undefined;
}

export function isIntType(t: ScalarType): boolean {
  return t in INT_RANGES;
}
