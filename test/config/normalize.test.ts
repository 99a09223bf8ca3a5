import { test } from 'node:test';
import assert from 'node:assert/strict';

import { completeConfig, buildModelConfig, configDataTypeToWire, wireDataTypeToConfig } from '../../src/config/normalize.js';
import { fromPbtxt } from '../../src/config/from-pbtxt.js';
import type { ModelConfig, OnnxModelInfo } from '../../src/config/model-config.js';
import { DATATYPES } from '../../src/types/tensor.js';
import { InvalidArgument } from '../../src/errors/errors.js';

/** What a worker reads from Triton's `simple` model exported with a dynamic batch dim. */
const SIMPLE_ONNX: OnnxModelInfo = {
  inputs: [
    { name: 'INPUT0', data_type: 'TYPE_INT32', dims: [-1, 16] },
    { name: 'INPUT1', data_type: 'TYPE_INT32', dims: [-1, 16] },
  ],
  outputs: [
    { name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: [-1, 16] },
    { name: 'OUTPUT1', data_type: 'TYPE_INT32', dims: [-1, 16] },
  ],
};

const FIXED_ONNX: OnnxModelInfo = {
  inputs: [{ name: 'x', data_type: 'TYPE_FP32', dims: [2, 3] }],
  outputs: [{ name: 'y', data_type: 'TYPE_FP32', dims: [2, 3] }],
};

const io = (name: string, dims: number[], data_type: ModelConfig['input'][number]['data_type'] = 'TYPE_INT32') => ({
  name, data_type, format: 'FORMAT_NONE' as const, dims, is_shape_tensor: false, allow_ragged_batch: false, optional: false,
});
const out = (name: string, dims: number[], data_type: ModelConfig['output'][number]['data_type'] = 'TYPE_INT32') => ({
  name, data_type, dims, label_filename: '', is_shape_tensor: false,
});
const DEFAULT_DYNAMIC = {
  preferred_batch_size: [],
  max_queue_delay_microseconds: 0,
  preserve_ordering: false,
  priority_levels: 0,
  default_priority_level: 0,
  default_queue_policy: { timeout_action: 'REJECT', default_timeout_microseconds: 0, allow_timeout_override: false, max_queue_size: 0 },
  priority_queue_policy: {},
};

test('no config, batchable model: max_batch_size 4, dynamic_batching, every default', () => {
  const cfg = completeConfig({}, 'simple', SIMPLE_ONNX);
  assert.deepEqual(cfg, {
    name: 'simple',
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    version_policy: { latest: { num_versions: 1 } },
    max_batch_size: 4,
    input: [io('INPUT0', [16]), io('INPUT1', [16])],
    output: [out('OUTPUT0', [16]), out('OUTPUT1', [16])],
    instance_group: [{ name: 'simple', kind: 'KIND_CPU', count: 2, gpus: [] }],
    default_model_filename: 'model.onnx',
    metric_tags: {},
    dynamic_batching: DEFAULT_DYNAMIC,
    parameters: {},
    model_warmup: [],
  });
  // Key order is the order /config prints.
  assert.deepEqual(Object.keys(cfg), ['name', 'platform', 'backend', 'version_policy', 'max_batch_size', 'input',
    'output', 'instance_group', 'default_model_filename', 'metric_tags', 'dynamic_batching', 'parameters', 'model_warmup']);
});

test('no config, fixed-shape model: not batchable, full dims, no dynamic_batching', () => {
  const cfg = completeConfig({}, 'fixed', FIXED_ONNX);
  assert.equal(cfg.max_batch_size, 0);
  assert.equal(cfg.dynamic_batching, undefined);
  assert.deepEqual(cfg.input, [io('x', [2, 3], 'TYPE_FP32')]);
  assert.deepEqual(cfg.output, [out('y', [2, 3], 'TYPE_FP32')]);
});

test('one non-dynamic tensor makes the model non-batchable', () => {
  const onnx: OnnxModelInfo = {
    inputs: [{ name: 'a', data_type: 'TYPE_FP32', dims: [-1, 4] }],
    outputs: [{ name: 'b', data_type: 'TYPE_FP32', dims: [4] }],
  };
  const cfg = completeConfig({}, 'm', onnx);
  assert.equal(cfg.max_batch_size, 0);
  assert.deepEqual(cfg.input[0]!.dims, [-1, 4]);
});

test("Triton's simple config: explicit max_batch_size, no dynamic_batching added", () => {
  const partial = fromPbtxt(`name: "simple" platform: "onnxruntime_onnx" max_batch_size: 8
    input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "INPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]
    output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]`);
  const cfg = completeConfig(partial, 'simple', SIMPLE_ONNX);
  assert.equal(cfg.max_batch_size, 8);
  assert.equal(cfg.dynamic_batching, undefined);
  assert.deepEqual(cfg.input, [io('INPUT0', [16]), io('INPUT1', [16])]);
});

test('explicit max_batch_size 0 is kept for a batchable model', () => {
  const cfg = completeConfig({ max_batch_size: 0 }, 'simple', SIMPLE_ONNX);
  assert.equal(cfg.max_batch_size, 0);
  assert.equal(cfg.dynamic_batching, undefined);
  assert.deepEqual(cfg.input[0]!.dims, [-1, 16]);
});

test('defaultMaxBatchSize option', () => {
  assert.equal(completeConfig({}, 'simple', SIMPLE_ONNX, { defaultMaxBatchSize: 32 }).max_batch_size, 32);
});

test('partial inputs: missing fields and missing tensors come from the model', () => {
  const cfg = completeConfig({
    max_batch_size: 2,
    input: [{ name: 'INPUT1', dims: [16] }, { name: 'INPUT0', data_type: 'TYPE_INT32' }],
    output: [{ name: 'OUTPUT1', label_filename: 'labels.txt' }],
  }, 'simple', SIMPLE_ONNX);
  assert.deepEqual(cfg.input, [io('INPUT1', [16]), io('INPUT0', [16])]);
  assert.deepEqual(cfg.output, [{ ...out('OUTPUT1', [16]), label_filename: 'labels.txt' }, out('OUTPUT0', [16])]);
});

test('a scalar per batch item becomes dims [1] with reshape []', () => {
  const onnx: OnnxModelInfo = {
    inputs: [{ name: 'a', data_type: 'TYPE_FP32', dims: [-1] }],
    outputs: [{ name: 'b', data_type: 'TYPE_FP32', dims: [-1] }],
  };
  const cfg = completeConfig({}, 'm', onnx);
  assert.equal(cfg.max_batch_size, 4);
  assert.deepEqual(cfg.input[0], { ...io('a', [1], 'TYPE_FP32'), reshape: { shape: [] } });
  assert.deepEqual(cfg.output[0], { ...out('b', [1], 'TYPE_FP32'), reshape: { shape: [] } });
  assert.deepEqual(Object.keys(cfg.input[0]!), ['name', 'data_type', 'format', 'dims', 'reshape', 'is_shape_tensor', 'allow_ragged_batch', 'optional']);
});

test('name: defaults to the directory; a different name is an error', () => {
  assert.equal(completeConfig({ name: '' }, 'simple', SIMPLE_ONNX).name, 'simple');
  assert.throws(() => completeConfig({ name: 'other' }, 'simple', SIMPLE_ONNX), {
    name: 'InvalidArgument',
    message: "unexpected directory name 'simple' for model 'other', directory name must equal model name",
  });
});

test('platform/backend: filled, and others refused', () => {
  const cfg = completeConfig({ backend: 'onnxruntime' }, 'm', FIXED_ONNX);
  assert.equal(cfg.platform, 'onnxruntime_onnx');
  assert.throws(() => completeConfig({ platform: 'tensorflow_graphdef' }, 'm', FIXED_ONNX),
    { message: "model 'm': unsupported platform 'tensorflow_graphdef', Osprey serves 'onnxruntime_onnx' models only" });
  assert.throws(() => completeConfig({ backend: 'python' }, 'm', FIXED_ONNX),
    { message: "model 'm': unsupported backend 'python', Osprey serves 'onnxruntime' models only" });
});

test('version policy defaults', () => {
  const vp = (p: object) => completeConfig({ version_policy: p }, 'm', FIXED_ONNX).version_policy;
  assert.deepEqual(vp({}), { latest: { num_versions: 1 } });
  assert.deepEqual(vp({ latest: {} }), { latest: { num_versions: 1 } });
  assert.deepEqual(vp({ latest: { num_versions: 3 } }), { latest: { num_versions: 3 } });
  assert.deepEqual(vp({ all: {} }), { all: {} });
  assert.deepEqual(vp({ specific: {} }), { specific: { versions: [] } });
  assert.deepEqual(vp({ specific: { versions: [2, 5] } }), { specific: { versions: [2, 5] } });
});

test("instance groups: Triton's NormalizeInstanceGroup", () => {
  const groups = (g: object[], gpuCount = 0) =>
    completeConfig({ instance_group: g }, 'm', FIXED_ONNX, { gpuCount }).instance_group;
  assert.deepEqual(groups([]), [{ name: 'm', kind: 'KIND_CPU', count: 2, gpus: [] }]);
  assert.deepEqual(groups([{}]), [{ name: 'm_0', kind: 'KIND_CPU', count: 2, gpus: [] }]);
  assert.deepEqual(groups([{ count: 1, kind: 'KIND_CPU' }, { name: 'g', kind: 'KIND_AUTO', count: 0 }]), [
    { name: 'm_0', kind: 'KIND_CPU', count: 1, gpus: [] },
    { name: 'g', kind: 'KIND_CPU', count: 2, gpus: [] },
  ]);
  assert.deepEqual(groups([{}], 2), [{ name: 'm_0', kind: 'KIND_GPU', count: 1, gpus: [0, 1] }]);
  assert.deepEqual(groups([{ kind: 'KIND_AUTO', gpus: [5] }], 2), [{ name: 'm_0', kind: 'KIND_CPU', count: 2, gpus: [5] }]);
  assert.deepEqual(groups([{ kind: 'KIND_GPU', gpus: [1], count: 3 }], 2), [{ name: 'm_0', kind: 'KIND_GPU', count: 3, gpus: [1] }]);
});

test('dynamic_batching, queue policies, optimization, warmup, parameters, cache: defaults filled', () => {
  const cfg = completeConfig(fromPbtxt(`
    max_batch_size: 8
    dynamic_batching {
      preferred_batch_size: 4
      priority_levels: 2 default_priority_level: 2
      default_queue_policy { max_queue_size: 10 }
      priority_queue_policy { key: 1 value { timeout_action: DELAY default_timeout_microseconds: 100 } }
    }
    optimization { execution_accelerators { cpu_execution_accelerator { name: "openvino" } } }
    parameters { key: "enable_mem_arena" value { } }
    model_warmup { name: "w" batch_size: 1 inputs { key: "INPUT0" value { data_type: TYPE_INT32 dims: 16 zero_data: true } } }
    metric_tags { key: "team" value: "x" }
    response_cache { }
    default_model_filename: "other.onnx"
  `), 'simple', SIMPLE_ONNX);
  assert.deepEqual(cfg.dynamic_batching, {
    ...DEFAULT_DYNAMIC,
    preferred_batch_size: [4],
    priority_levels: 2,
    default_priority_level: 2,
    default_queue_policy: { ...DEFAULT_DYNAMIC.default_queue_policy, max_queue_size: 10 },
    priority_queue_policy: {
      1: { timeout_action: 'DELAY', default_timeout_microseconds: 100, allow_timeout_override: false, max_queue_size: 0 },
    },
  });
  assert.deepEqual(cfg.optimization, {
    execution_accelerators: { gpu_execution_accelerator: [], cpu_execution_accelerator: [{ name: 'openvino', parameters: {} }] },
  });
  assert.deepEqual(cfg.parameters, { enable_mem_arena: { string_value: '' } });
  assert.deepEqual(cfg.model_warmup, [
    { name: 'w', batch_size: 1, inputs: { INPUT0: { data_type: 'TYPE_INT32', dims: [16], zero_data: true } }, count: 0 },
  ]);
  assert.deepEqual(cfg.metric_tags, { team: 'x' });
  assert.deepEqual(cfg.response_cache, { enable: false });
  assert.equal(cfg.default_model_filename, 'other.onnx');
  assert.deepEqual(completeConfig({ optimization: { graph: {} } }, 'm', FIXED_ONNX).optimization, { graph: { level: 0 } });
});

test('completeConfig does not modify its input', () => {
  const partial = fromPbtxt('max_batch_size: 4 input { name: "INPUT0" } instance_group { }');
  const copy = structuredClone(partial);
  completeConfig(partial, 'simple', SIMPLE_ONNX);
  assert.deepEqual(partial, copy);
});

test('buildModelConfig: text, JSON override, no config; result deep-frozen', () => {
  const fromText = buildModelConfig({ modelName: 'simple', configText: 'max_batch_size: 8', onnx: SIMPLE_ONNX });
  assert.equal(fromText.max_batch_size, 8);
  assert.ok(Object.isFrozen(fromText));
  assert.ok(Object.isFrozen(fromText.input[0]!.dims));
  assert.ok(Object.isFrozen(fromText.instance_group[0]));
  assert.throws(() => { (fromText as ModelConfig).max_batch_size = 1; }, TypeError);

  const overridden = buildModelConfig({
    modelName: 'simple', configText: 'max_batch_size: 8', jsonOverride: '{"max_batch_size": 2}', onnx: SIMPLE_ONNX,
  });
  assert.equal(overridden.max_batch_size, 2);
  assert.equal(buildModelConfig({ modelName: 'simple', onnx: SIMPLE_ONNX }).max_batch_size, 4);
  assert.equal(buildModelConfig({ modelName: 'simple', configPath: '/nonexistent/simple/config.pbtxt', onnx: SIMPLE_ONNX })
    .max_batch_size, 4);
});

test('buildModelConfig: errors are INVALID_ARG and name the file', () => {
  assert.throws(() => buildModelConfig({ modelName: 'simple', configText: 'max_batch: 8', configPath: '/r/simple/config.pbtxt', onnx: SIMPLE_ONNX }),
    { code: 'INVALID_ARG', message: "/r/simple/config.pbtxt:1:1: unknown field 'max_batch' in inference.ModelConfig" });
  assert.throws(() => buildModelConfig({ modelName: 'simple', configText: 'max_batch: 8', onnx: SIMPLE_ONNX }),
    { message: "simple/config.pbtxt:1:1: unknown field 'max_batch' in inference.ModelConfig" });
  assert.throws(() => buildModelConfig({ modelName: 'simple', configText: 'max_batch_size: 8 input { name: "X" }', onnx: SIMPLE_ONNX }),
    (err: unknown) => err instanceof InvalidArgument
      && err.message === "model 'simple': unable to find 'X' in the model's inputs (model has INPUT0, INPUT1)");
});

test('buildModelConfig: label files resolved next to config.pbtxt, or by the given check', () => {
  const configText = 'output { name: "OUTPUT0" label_filename: "labels.txt" }';
  assert.throws(() => buildModelConfig({ modelName: 'simple', configText, configPath: '/nonexistent/simple/config.pbtxt', onnx: SIMPLE_ONNX }),
    { message: "model 'simple': label file 'labels.txt' for output 'OUTPUT0' does not exist" });
  const seen: string[] = [];
  const cfg = buildModelConfig({
    modelName: 'simple', configText, onnx: SIMPLE_ONNX, labelFileExists: (f) => { seen.push(f); return true; },
  });
  assert.equal(cfg.output[0]!.label_filename, 'labels.txt');
  assert.deepEqual(seen, ['labels.txt']);
});

test('configDataTypeToWire and back', () => {
  assert.equal(configDataTypeToWire('TYPE_STRING'), 'BYTES');
  assert.equal(configDataTypeToWire('TYPE_FP32'), 'FP32');
  assert.equal(configDataTypeToWire('TYPE_BF16'), 'BF16');
  assert.equal(wireDataTypeToConfig('BYTES'), 'TYPE_STRING');
  for (const t of DATATYPES) assert.equal(configDataTypeToWire(wireDataTypeToConfig(t)), t);
  assert.throws(() => configDataTypeToWire('TYPE_INVALID'), { message: 'datatype TYPE_INVALID has no wire form' });
});
