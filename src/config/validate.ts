/**
 * Checks a completed config against itself and against the ONNX model, then
 * freezes it (STYLE: validate once, then freeze). Wording follows Triton's
 * `ValidateModelConfig` and the ONNX Runtime backend where they have a message,
 * with every message prefixed by the model name (`model 'x': ...`); instance
 * group messages keep Triton's own form, which already names the model.
 */

import { InvalidArgument } from '../errors/errors.js';
import type {
  ModelConfig, ModelInputConfig, ModelOutputConfig, ModelWarmupConfig, OnnxModelInfo, OnnxTensorInfo,
} from './model-config.js';
import { validateSequenceBatching } from './sequence.js';

export interface ValidateOptions {
  gpuCount?: number;
  /** Whether an output's label_filename exists; no check when absent. */
  labelFileExists?: (labelFilename: string) => boolean;
}

/** Throws InvalidArgument on the first problem; returns the config deep-frozen. */
export function validateConfig(
  cfg: ModelConfig, onnx: OnnxModelInfo, opts: ValidateOptions = {},
): Readonly<ModelConfig> {
  const fail = (detail: string): never => {
    throw new InvalidArgument(`model '${cfg.name}': ${detail}`);
  };
  if (cfg.max_batch_size < 0) fail("'max_batch_size' must be non-negative value");
  validateVersionPolicy(cfg, fail);
  validateIO('input', cfg.input, onnx.inputs, cfg.max_batch_size, fail, opts);
  validateIO('output', cfg.output, onnx.outputs, cfg.max_batch_size, fail, opts);
  validateInstanceGroups(cfg, opts.gpuCount ?? 0);
  validateDynamicBatching(cfg, fail);
  validateSequenceBatching(cfg, onnx, fail);
  for (const w of cfg.model_warmup) validateWarmup(w, cfg, fail);
  return deepFreeze(cfg);
}

type Fail = (detail: string) => never;

const shapeText = (dims: readonly number[]): string => `[${dims.join(',')}]`;

function validateVersionPolicy(cfg: ModelConfig, fail: Fail): void {
  const p = cfg.version_policy;
  if ('latest' in p && p.latest.num_versions < 1) fail("version_policy 'latest' must have num_versions >= 1");
  if ('specific' in p && p.specific.versions.some((v) => v < 1)) {
    fail("version_policy 'specific' versions must be positive integers");
  }
}

/** -1 on either side matches anything; ranks must agree. */
export function dimsCompatible(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === -1 || b[i] === -1 || d === b[i]);
}

function validateIO(
  kind: 'input' | 'output', list: readonly (ModelInputConfig | ModelOutputConfig)[],
  model: readonly OnnxTensorInfo[], maxBatchSize: number, fail: Fail, opts: ValidateOptions,
): void {
  const byName = new Map(model.map((t) => [t.name, t]));
  const seen = new Set<string>();
  for (const io of list) {
    if (io.name === '') fail(`model ${kind} must specify 'name'`);
    const what = `model ${kind} '${io.name}'`;
    if (seen.has(io.name)) fail(`${what} is specified more than once`);
    seen.add(io.name);
    const info = byName.get(io.name);
    if (info === undefined) {
      const names = model.map((t) => t.name).join(', ') || 'none';
      fail(`unable to find '${io.name}' in the model's ${kind}s (model has ${names})`);
    }
    if (info.data_type === 'TYPE_INVALID') fail(`${what} has a datatype in the ONNX model that has no Triton equivalent`);
    validateShape(io, what, fail);
    if ('format' in io) {
      if (io.format !== 'FORMAT_NONE' && io.dims.length !== 3) fail(`${what} NHWC/NCHW require 3 dims`);
      if (io.allow_ragged_batch) fail(`${what} sets allow_ragged_batch, which is not supported`);
    }
    if (io.is_shape_tensor) fail(`${what} is a shape tensor: shape tensors are only supported for TensorRT platform`);

    if (io.data_type !== info.data_type) {
      fail(`configuration expects datatype ${io.data_type} for ${kind} '${io.name}', model provides ${info.data_type}`);
    }
    if (maxBatchSize > 0 && (info.dims.length === 0 || info.dims[0] !== -1)) {
      fail(`${kind} '${io.name}': for the model to support batching the shape should have at least 1 dimension `
        + `and the first dimension must be -1; but shape expected by the model is ${shapeText(info.dims)}`);
    }
    const shape = io.reshape?.shape ?? io.dims;
    const full = maxBatchSize > 0 ? [-1, ...shape] : shape;
    if (!dimsCompatible(full, info.dims)) {
      const why = maxBatchSize > 0 ? ' (the batch dimension -1 is prepended because max_batch_size > 0)' : '';
      fail(`${kind} '${io.name}': the model expects shape ${shapeText(info.dims)} but the configuration `
        + `specifies ${shapeText(full)}${why}`);
    }
    if ('label_filename' in io && io.label_filename !== '' && opts.labelFileExists
      && !opts.labelFileExists(io.label_filename)) {
      fail(`label file '${io.label_filename}' for output '${io.name}' does not exist`);
    }
  }
}

/** Triton's ValidateIOShape: dims present and >= 1 or -1; reshape of the same size. */
function validateShape(io: ModelInputConfig | ModelOutputConfig, what: string, fail: Fail): void {
  if (io.data_type === 'TYPE_INVALID') fail(`${what} must specify 'data_type'`);
  if (io.dims.length === 0) fail(`${what} must specify 'dims'`);
  const variable = ' to indicate a variable-size dimension';
  if (io.dims.some((d) => d < 1 && d !== -1)) fail(`${what} dimension must be integer >= 1, or -1${variable}`);
  if (io.reshape === undefined) return;
  const rs = io.reshape.shape;
  if (rs.some((d) => d < 1 && d !== -1)) fail(`${what} reshape dimensions must be integer >= 1, or -1${variable}`);
  // Compare element counts of the runs between -1s: [2,4,-1,6] -> [8,-1,1,6] is
  // a valid reshape. An empty reshape (a scalar) needs dims of one element.
  const runs = (dims: readonly number[]): number[] => {
    const out = [1];
    for (const d of dims) {
      if (d === -1) out.push(1);
      else out[out.length - 1]! *= d;
    }
    return out;
  };
  const a = runs(io.dims);
  const b = runs(rs);
  if (rs.length === 0 && a.length === 1 && a[0] === 1) return;
  if (a.length !== b.length) fail(`${what} has different number of variable-size dimensions for dims and reshape`);
  if (a.some((n, i) => n !== b[i])) fail(`${what} has different size for dims and reshape`);
}

function validateInstanceGroups(cfg: ModelConfig, gpuCount: number): void {
  for (const g of cfg.instance_group) {
    const where = `instance group ${g.name} of model ${cfg.name}`;
    if (g.kind === 'KIND_MODEL') {
      throw new InvalidArgument(`${where} has kind KIND_MODEL which is supported only on TensorFlow models`);
    }
    if (g.kind === 'KIND_CPU' && g.gpus.length > 0) {
      throw new InvalidArgument(`${where} has kind KIND_CPU but specifies one or more GPUs`);
    }
    if (g.kind === 'KIND_GPU') {
      if (g.gpus.length === 0) {
        throw new InvalidArgument(gpuCount === 0
          ? `${where} has kind KIND_GPU but no GPUs are available`
          : `${where} has kind KIND_GPU but specifies no GPUs`);
      }
      const bad = g.gpus.find((id) => id < 0 || id >= gpuCount);
      if (bad !== undefined) throw new InvalidArgument(`${where} specifies invalid or unsupported gpu id of ${bad}`);
    }
  }
}

function validateDynamicBatching(cfg: ModelConfig, fail: Fail): void {
  const d = cfg.dynamic_batching;
  if (d === undefined) return;
  for (const size of d.preferred_batch_size) {
    if (size <= 0) fail('dynamic batching preferred size must be positive');
    if (size > cfg.max_batch_size) fail('dynamic batching preferred size must be <= max batch size');
  }
  const levels = d.priority_levels;
  if (levels !== 0) {
    if (d.default_priority_level === 0 || d.default_priority_level > levels) {
      fail(`default priority level must be in range [1, ${levels}]`);
    }
    for (const level of Object.keys(d.priority_queue_policy)) {
      if (Number(level) === 0 || Number(level) > levels) {
        fail(`priority queue policy must have priority level in range [1, ${levels}]`);
      }
    }
  }
  if (d.preserve_ordering) {
    if (levels > 1) fail("Only one priority level is allowed when 'preserve_ordering' is true");
    const policies = [d.default_queue_policy, ...Object.values(d.priority_queue_policy)];
    if (policies.some((p) => p !== undefined && p.default_timeout_microseconds !== 0 && p.timeout_action === 'DELAY')) {
      fail("Queue policy can not have DELAY as timeout action when 'preserve_ordering' is true");
    }
  }
}

function validateWarmup(w: ModelWarmupConfig, cfg: ModelConfig, fail: Fail): void {
  if (w.name === '') fail("model_warmup must specify 'name'");
  const where = `model_warmup '${w.name}'`;
  const mbs = cfg.max_batch_size;
  // Like Triton, batch_size only matters when the model batches (it becomes
  // the leading dimension); a non-batching model's warmup ignores it.
  if (mbs > 0 && w.batch_size < 1) fail(`${where}: batch_size must be >= 1`);
  if (mbs > 0 && w.batch_size > mbs) fail(`${where}: batch_size ${w.batch_size} exceeds max_batch_size ${mbs}`);
  const inputs = new Map(cfg.input.map((i) => [i.name, i]));
  for (const [name, inp] of Object.entries(w.inputs)) {
    const cfgInput = inputs.get(name);
    if (cfgInput === undefined) fail(`${where}: unknown input '${name}'`);
    if (inp.data_type !== cfgInput.data_type) {
      fail(`${where}: input '${name}' has datatype ${inp.data_type} but the model input is ${cfgInput.data_type}`);
    }
    if (inp.dims.some((d) => d < 0)) {
      fail(`${where}: warmup setting expects all variable-size dimensions are specified for input '${name}'`);
    }
    if (!dimsCompatible(inp.dims, cfgInput.dims)) {
      fail(`${where}: input '${name}' dims ${shapeText(inp.dims)} do not match the model input's dims ${shapeText(cfgInput.dims)}`);
    }
    if (!inp.zero_data && !inp.random_data && inp.input_data_file === undefined) {
      fail(`${where}: input '${name}' must specify zero_data, random_data or input_data_file`);
    }
  }
  for (const i of cfg.input) {
    if (!i.optional && !(i.name in w.inputs)) fail(`${where}: missing input '${i.name}'`);
  }
}

/** Freezes an object graph in place; returns it typed readonly. */
export function deepFreeze<T>(value: T): Readonly<T> {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
