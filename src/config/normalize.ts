/**
 * Auto-complete + normalize a model config, as Triton's ONNX Runtime backend
 * (auto-complete) and core (`NormalizeModelConfig`) do: fill what the ONNX model
 * tells us, then put a default in every field so the rest of the server and
 * `/config` see one complete shape. Runs on the main thread at load time, after
 * a worker has read the model's signature (OnnxModelInfo).
 *
 * `buildModelConfig` is the one entry the registry calls: parse, complete,
 * validate, freeze.
 */

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { InvalidArgument } from '../errors/errors.js';
import { fromJsonConfig } from './from-json.js';
import { fromPbtxt } from './from-pbtxt.js';
import type {
  DeepPartial, DynamicBatchingConfig, InstanceGroupConfig, ModelConfig, ModelInputConfig,
  ModelOutputConfig, ModelWarmupConfig, OnnxModelInfo, OnnxTensorInfo, OptimizationConfig,
  PartialModelConfig, QueuePolicyConfig, VersionPolicy,
} from './model-config.js';
import { completeSequenceBatching, sequenceOwnedInputs, sequenceOwnedOutputs } from './sequence.js';
import { validateConfig, type ValidateOptions } from './validate.js';

export { configDataTypeToWire, wireDataTypeToConfig } from './datatype.js';
export { deepFreeze, validateConfig, type ValidateOptions } from './validate.js';

export const ONNX_PLATFORM = 'onnxruntime_onnx';
export const ONNX_BACKEND = 'onnxruntime';

export interface CompleteOptions {
  /** GPUs available to the server; Osprey runs ONNX Runtime on CPU, so 0. */
  gpuCount?: number;
  /** max_batch_size given to a batchable model that sets none (Triton ORT: 4). */
  defaultMaxBatchSize?: number;
}

/**
 * Auto-complete and fill defaults. Does not validate beyond what it needs to
 * complete (a name that differs from the directory, a foreign platform).
 */
export function completeConfig(
  partial: PartialModelConfig, modelName: string, onnx: OnnxModelInfo, opts: CompleteOptions = {},
): ModelConfig {
  if (partial.name !== undefined && partial.name !== '' && partial.name !== modelName) {
    // Triton's wording (model_repository_manager.cc).
    throw new InvalidArgument(
      `unexpected directory name '${modelName}' for model '${partial.name}', directory name must equal model name`);
  }
  const platform = partial.platform || ONNX_PLATFORM;
  const backend = partial.backend || ONNX_BACKEND;
  if (platform !== ONNX_PLATFORM) {
    throw new InvalidArgument(`model '${modelName}': unsupported platform '${platform}', Osprey serves '${ONNX_PLATFORM}' models only`);
  }
  if (backend !== ONNX_BACKEND) {
    throw new InvalidArgument(`model '${modelName}': unsupported backend '${backend}', Osprey serves '${ONNX_BACKEND}' models only`);
  }

  // ORT auto-complete: a model whose every input and output has a dynamic
  // first dimension can batch; without an explicit max_batch_size it gets the
  // default and a dynamic batcher. An explicit `max_batch_size: 0` is kept.
  let maxBatchSize = partial.max_batch_size;
  let addDynamicBatching = false;
  if (maxBatchSize === undefined) {
    const batchable = [...onnx.inputs, ...onnx.outputs].every((t) => t.dims.length > 0 && t.dims[0] === -1);
    maxBatchSize = batchable ? (opts.defaultMaxBatchSize ?? 4) : 0;
    addDynamicBatching = batchable;
  }

  // A sequence model gets no dynamic batcher: its scheduler is the sequence batcher.
  const sequence = partial.sequence_batching;
  const dynamic = partial.dynamic_batching ?? (addDynamicBatching && sequence === undefined ? {} : undefined);
  // Control and state inputs (and state outputs) are the server's, not the client's:
  // auto-complete must not list them as model inputs/outputs (Triton's ORT backend skips them too).
  const ownIn = sequenceOwnedInputs(sequence);
  const ownOut = sequenceOwnedOutputs(sequence);
  return {
    name: modelName,
    platform,
    backend,
    version_policy: completeVersionPolicy(partial.version_policy),
    max_batch_size: maxBatchSize,
    input: completeIO(partial.input ?? [], onnx.inputs.filter((t) => !ownIn.has(t.name)), maxBatchSize).map(completeInput),
    output: completeIO(partial.output ?? [], onnx.outputs.filter((t) => !ownOut.has(t.name)), maxBatchSize).map(completeOutput),
    instance_group: completeInstanceGroups(partial.instance_group, modelName, opts.gpuCount ?? 0),
    default_model_filename: modelFileName(partial),
    metric_tags: { ...partial.metric_tags } as Record<string, string>,
    ...(dynamic !== undefined ? { dynamic_batching: completeDynamicBatching(dynamic) } : {}),
    ...(sequence !== undefined ? { sequence_batching: completeSequenceBatching(sequence) } : {}),
    ...(partial.optimization !== undefined ? { optimization: completeOptimization(partial.optimization) } : {}),
    parameters: Object.fromEntries(Object.entries(partial.parameters ?? {})
      .map(([k, v]) => [k, { string_value: v?.string_value ?? '' }])),
    model_warmup: (partial.model_warmup ?? []).map(completeWarmup),
    ...(partial.response_cache !== undefined ? { response_cache: { enable: partial.response_cache.enable ?? false } } : {}),
  };
}

function completeVersionPolicy(p: DeepPartial<VersionPolicy> | undefined): VersionPolicy {
  const v = (p ?? {}) as { latest?: { num_versions?: number }; all?: object; specific?: { versions?: number[] } };
  if (v.all !== undefined) return { all: {} };
  if (v.specific !== undefined) return { specific: { versions: [...(v.specific.versions ?? [])] } };
  // `latest {}` means the proto default of one version.
  return { latest: { num_versions: v.latest?.num_versions ?? 1 } };
}

type PartialIO = DeepPartial<ModelInputConfig> & DeepPartial<ModelOutputConfig>;

/**
 * Config entries first (in their order), then the model's tensors the config
 * does not mention. Missing datatype and dims come from the model; with
 * batching, the model's first (batch) dimension is not part of `dims`.
 */
function completeIO<T extends PartialIO>(given: T[], model: OnnxTensorInfo[], maxBatchSize: number): T[] {
  const byName = new Map(model.map((t) => [t.name, t]));
  const out = given.map((io) => fillFromModel(io, byName.get(io.name ?? ''), maxBatchSize));
  const named = new Set(given.map((io) => io.name));
  for (const t of model) {
    if (!named.has(t.name)) out.push(fillFromModel({ name: t.name } as T, t, maxBatchSize));
  }
  return out;
}

function fillFromModel<T extends PartialIO>(io: T, info: OnnxTensorInfo | undefined, maxBatchSize: number): T {
  const res = { ...io };
  if (info === undefined) return res;
  res.data_type ??= info.data_type;
  if (res.dims === undefined || res.dims.length === 0) {
    const dims = maxBatchSize > 0 ? info.dims.slice(1) : [...info.dims];
    if (dims.length === 0 && res.reshape === undefined) {
      // Triton has no rank-0 config dims: a scalar is dims [1] reshaped to [].
      res.dims = [1];
      res.reshape = { shape: [] };
    } else {
      res.dims = dims;
    }
  }
  return res;
}

function completeReshape(r: DeepPartial<{ shape: number[] }> | undefined): { reshape?: { shape: number[] } } {
  return r === undefined ? {} : { reshape: { shape: [...(r.shape ?? [])] } };
}

function completeInput(io: DeepPartial<ModelInputConfig>): ModelInputConfig {
  return {
    name: io.name ?? '',
    data_type: io.data_type ?? 'TYPE_INVALID',
    format: io.format ?? 'FORMAT_NONE',
    dims: [...(io.dims ?? [])],
    ...completeReshape(io.reshape),
    is_shape_tensor: io.is_shape_tensor ?? false,
    allow_ragged_batch: io.allow_ragged_batch ?? false,
    optional: io.optional ?? false,
  };
}

function completeOutput(io: DeepPartial<ModelOutputConfig>): ModelOutputConfig {
  return {
    name: io.name ?? '',
    data_type: io.data_type ?? 'TYPE_INVALID',
    dims: [...(io.dims ?? [])],
    label_filename: io.label_filename ?? '',
    ...completeReshape(io.reshape),
    is_shape_tensor: io.is_shape_tensor ?? false,
  };
}

/** The model file in each version folder: `default_model_filename`, else model.onnx. */
export function modelFileName(partial: PartialModelConfig): string {
  return partial.default_model_filename || 'model.onnx';
}

/**
 * Triton's NormalizeInstanceGroup: one group named after the model when none
 * is given; unnamed groups are `<model>_<index>`; KIND_AUTO is GPU when there
 * are GPUs, else CPU; a group without a count gets 2 on CPU for ONNX Runtime
 * (Triton's default_cpu_instance_count) and 1 otherwise; GPU groups without
 * `gpus` get every GPU. Needs nothing from the ONNX file, so the repository
 * completes the groups before the sessions exist (a thread per instance).
 */
export function completeInstanceGroups(
  given: readonly DeepPartial<InstanceGroupConfig>[] | undefined, modelName: string, gpuCount: number,
): InstanceGroupConfig[] {
  const groups = given !== undefined && given.length > 0 ? given : [{ name: modelName }];
  return groups.map((g, i) => {
    let kind = g.kind ?? 'KIND_AUTO';
    const gpus = [...(g.gpus ?? [])];
    if (kind === 'KIND_AUTO') {
      kind = gpuCount > 0 && gpus.every((id) => id >= 0 && id < gpuCount) ? 'KIND_GPU' : 'KIND_CPU';
    }
    const count = g.count !== undefined && g.count >= 1 ? g.count : kind === 'KIND_CPU' ? 2 : 1;
    if (kind === 'KIND_GPU' && gpus.length === 0) {
      for (let id = 0; id < gpuCount; id++) gpus.push(id);
    }
    return { name: g.name || `${modelName}_${i}`, kind, count, gpus };
  });
}

function completeQueuePolicy(p: DeepPartial<QueuePolicyConfig> | undefined): QueuePolicyConfig {
  return {
    timeout_action: p?.timeout_action ?? 'REJECT',
    default_timeout_microseconds: p?.default_timeout_microseconds ?? 0,
    allow_timeout_override: p?.allow_timeout_override ?? false,
    max_queue_size: p?.max_queue_size ?? 0,
  };
}

function completeDynamicBatching(d: DeepPartial<DynamicBatchingConfig>): DynamicBatchingConfig {
  return {
    preferred_batch_size: [...(d.preferred_batch_size ?? [])],
    max_queue_delay_microseconds: d.max_queue_delay_microseconds ?? 0,
    preserve_ordering: d.preserve_ordering ?? false,
    priority_levels: d.priority_levels ?? 0,
    default_priority_level: d.default_priority_level ?? 0,
    default_queue_policy: completeQueuePolicy(d.default_queue_policy),
    priority_queue_policy: Object.fromEntries(Object.entries(d.priority_queue_policy ?? {})
      .map(([level, p]) => [level, completeQueuePolicy(p)])),
  };
}

function completeOptimization(o: DeepPartial<OptimizationConfig>): OptimizationConfig {
  const acc = (list: DeepPartial<{ name: string; parameters: Record<string, string> }>[] | undefined) =>
    (list ?? []).map((a) => ({ name: a.name ?? '', parameters: { ...a.parameters } as Record<string, string> }));
  return {
    ...(o.graph !== undefined ? { graph: { level: o.graph.level ?? 0 } } : {}),
    ...(o.execution_accelerators !== undefined ? {
      execution_accelerators: {
        gpu_execution_accelerator: acc(o.execution_accelerators.gpu_execution_accelerator),
        cpu_execution_accelerator: acc(o.execution_accelerators.cpu_execution_accelerator),
      },
    } : {}),
  };
}

/** `count` 0 is the proto default and means "run this sample once". */
function completeWarmup(w: DeepPartial<ModelWarmupConfig>): ModelWarmupConfig {
  return {
    name: w.name ?? '',
    batch_size: w.batch_size ?? 0,
    inputs: Object.fromEntries(Object.entries(w.inputs ?? {}).map(([name, inp]) => [name, {
      data_type: inp?.data_type ?? 'TYPE_INVALID',
      dims: [...(inp?.dims ?? [])],
      ...(inp?.zero_data !== undefined ? { zero_data: inp.zero_data } : {}),
      ...(inp?.random_data !== undefined ? { random_data: inp.random_data } : {}),
      ...(inp?.input_data_file !== undefined ? { input_data_file: inp.input_data_file } : {}),
    }])),
    count: w.count ?? 0,
  };
}

export interface BuildModelConfigArgs {
  /** The model's directory name. */
  modelName: string;
  /** config.pbtxt contents; when absent, `configPath` is read if it exists. */
  configText?: string;
  /** Where config.pbtxt is (named in errors; label files are resolved next to it). */
  configPath?: string;
  /** The load API's `config` JSON: replaces config.pbtxt entirely, as in Triton. */
  jsonOverride?: string;
  /** The model's signature, read by a worker from the ONNX file. */
  onnx: OnnxModelInfo;
  gpuCount?: number;
  defaultMaxBatchSize?: number;
  /** Overrides the label-file check (default: the file exists next to configPath). */
  labelFileExists?: (labelFilename: string) => boolean;
}

/** Model instances the groups ask for: one session (and worker thread) each. */
export function instanceCount(groups: readonly InstanceGroupConfig[]): number {
  let n = 0;
  for (const g of groups) n += g.count;
  return n;
}

/** Auto-complete an already parsed config, validate it, deep-freeze it. Throws OspreyError (INVALID_ARG). */
export function finishConfig(
  partial: PartialModelConfig, modelName: string, onnx: OnnxModelInfo, opts: CompleteOptions & ValidateOptions,
): Readonly<ModelConfig> {
  const cfg = completeConfig(partial, modelName, onnx, opts);
  return validateConfig(cfg, onnx, { gpuCount: opts.gpuCount ?? 0, labelFileExists: opts.labelFileExists });
}

/** Parse -> auto-complete -> validate -> deep-freeze. Throws OspreyError (INVALID_ARG). */
export function buildModelConfig(args: BuildModelConfigArgs): Readonly<ModelConfig> {
  const file = args.configPath ?? `${args.modelName}/config.pbtxt`;
  let partial: PartialModelConfig = {};
  if (args.jsonOverride !== undefined) {
    partial = fromJsonConfig(args.jsonOverride);
  } else if (args.configText !== undefined) {
    partial = fromPbtxt(args.configText, file);
  } else if (args.configPath !== undefined && existsSync(args.configPath)) {
    partial = fromPbtxt(readFileSync(args.configPath, 'utf8'), file); // config.pbtxt is optional
  }
  const modelDir = args.configPath !== undefined ? dirname(args.configPath) : undefined;
  const labelFileExists = args.labelFileExists
    ?? (modelDir !== undefined ? (f: string) => existsSync(join(modelDir, f)) : undefined);
  return finishConfig(partial, args.modelName, args.onnx, {
    gpuCount: args.gpuCount ?? 0, defaultMaxBatchSize: args.defaultMaxBatchSize, labelFileExists,
  });
}
