import { test } from 'node:test';
import assert from 'node:assert/strict';

import { completeConfig } from '../../src/config/normalize.js';
import { fromPbtxt } from '../../src/config/from-pbtxt.js';
import { dimsCompatible, validateConfig, type ValidateOptions } from '../../src/config/validate.js';
import type { OnnxModelInfo } from '../../src/config/model-config.js';
import { InvalidArgument } from '../../src/errors/errors.js';

const ONNX: OnnxModelInfo = {
  inputs: [
    { name: 'INPUT0', data_type: 'TYPE_FP32', dims: [-1, 16] },
    { name: 'INPUT1', data_type: 'TYPE_FP32', dims: [-1, 4, 4] },
  ],
  outputs: [{ name: 'OUTPUT0', data_type: 'TYPE_FP32', dims: [-1, 16] }],
};

function check(text: string, onnx: OnnxModelInfo = ONNX, opts: ValidateOptions & { gpuCount?: number } = {}) {
  return validateConfig(completeConfig(fromPbtxt(text), 'x', onnx, opts), onnx, opts);
}

function rejects(text: string, message: string, onnx: OnnxModelInfo = ONNX, opts: ValidateOptions = {}): void {
  assert.throws(() => check(text, onnx, opts), (err: unknown) => {
    assert.ok(err instanceof InvalidArgument, String(err));
    assert.equal(err.code, 'INVALID_ARG');
    assert.equal(err.message, message);
    return true;
  });
}

test('valid configs pass and come back frozen', () => {
  const cfg = check('');
  assert.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.input) && Object.isFrozen(cfg.dynamic_batching!.default_queue_policy));
  check('max_batch_size: 8 input { name: "INPUT0" dims: [-1] }'); // -1 matches 16
  check('max_batch_size: 8 input { name: "INPUT1" dims: [16] reshape { shape: [4, 4] } }');
  check('max_batch_size: 0 input { name: "INPUT0" dims: [-1, 16] } input { name: "INPUT1" dims: [2, 4, 4] } output { name: "OUTPUT0" dims: [3, 16] }');
  check('max_batch_size: 8 dynamic_batching { preferred_batch_size: [4, 8] priority_levels: 3 default_priority_level: 3 '
    + 'priority_queue_policy { key: 1 value { } } }');
});

test('unknown tensors, with the names the model has', () => {
  rejects('input { name: "FOO" data_type: TYPE_FP32 dims: 1 }', "model 'x': unable to find 'FOO' in the model's inputs (model has INPUT0, INPUT1)");
  rejects('output { name: "BAR" data_type: TYPE_FP32 dims: 1 }', "model 'x': unable to find 'BAR' in the model's outputs (model has OUTPUT0)");
  rejects('input { name: "A" data_type: TYPE_FP32 dims: 1 }', "model 'x': unable to find 'A' in the model's inputs (model has none)",
    { inputs: [], outputs: [] });
  rejects('input { data_type: TYPE_FP32 dims: 1 }', "model 'x': model input must specify 'name'");
  rejects('input { name: "INPUT0" } input { name: "INPUT0" }', "model 'x': model input 'INPUT0' is specified more than once");
});

test('datatype mismatch and unsupported model types', () => {
  rejects('input { name: "INPUT0" data_type: TYPE_INT32 }',
    "model 'x': configuration expects datatype TYPE_INT32 for input 'INPUT0', model provides TYPE_FP32");
  rejects('output { name: "OUTPUT0" data_type: TYPE_STRING }',
    "model 'x': configuration expects datatype TYPE_STRING for output 'OUTPUT0', model provides TYPE_FP32");
  rejects('', "model 'x': model input 'c' has a datatype in the ONNX model that has no Triton equivalent", {
    inputs: [{ name: 'c', data_type: 'TYPE_INVALID', dims: [2] }], outputs: [],
  });
});

test('shape checks (batch dim prepended when max_batch_size > 0)', () => {
  rejects('max_batch_size: 8 input { name: "INPUT0" dims: [8] }',
    "model 'x': input 'INPUT0': the model expects shape [-1,16] but the configuration specifies [-1,8] (the batch dimension -1 is prepended because max_batch_size > 0)");
  rejects('max_batch_size: 8 input { name: "INPUT0" dims: [1, 16] }',
    "model 'x': input 'INPUT0': the model expects shape [-1,16] but the configuration specifies [-1,1,16] (the batch dimension -1 is prepended because max_batch_size > 0)");
  rejects('max_batch_size: 0 input { name: "INPUT0" dims: [16] }',
    "model 'x': input 'INPUT0': the model expects shape [-1,16] but the configuration specifies [16]");
  rejects('max_batch_size: 8 input { name: "INPUT1" dims: [16] reshape { shape: [2, 8] } }',
    "model 'x': input 'INPUT1': the model expects shape [-1,4,4] but the configuration specifies [-1,2,8] (the batch dimension -1 is prepended because max_batch_size > 0)");
  rejects('max_batch_size: 0 output { name: "OUTPUT0" dims: [2, 17] }',
    "model 'x': output 'OUTPUT0': the model expects shape [-1,16] but the configuration specifies [2,17]");
});

test('max_batch_size > 0 needs a dynamic first dimension in the model', () => {
  const fixed: OnnxModelInfo = {
    inputs: [{ name: 'a', data_type: 'TYPE_FP32', dims: [3, 4] }],
    outputs: [{ name: 'b', data_type: 'TYPE_FP32', dims: [-1, 4] }],
  };
  rejects('max_batch_size: 2 input { name: "a" dims: [4] }',
    "model 'x': input 'a': for the model to support batching the shape should have at least 1 dimension and the first dimension must be -1; but shape expected by the model is [3,4]",
    fixed);
  rejects('max_batch_size: 2', "model 'x': input 's': for the model to support batching the shape should have at least 1 dimension and the first dimension must be -1; but shape expected by the model is []",
    { inputs: [{ name: 's', data_type: 'TYPE_FP32', dims: [] }], outputs: [] });
  rejects('max_batch_size: -1', "model 'x': 'max_batch_size' must be non-negative value");
});

test("Triton's dims and reshape rules", () => {
  // Auto-complete fills dims and data_type from the model, so only a config
  // built by hand can lack them.
  const scalar: OnnxModelInfo = { inputs: [{ name: 's', data_type: 'TYPE_FP32', dims: [] }], outputs: [] };
  const bare = completeConfig({}, 'x', scalar);
  assert.deepEqual(bare.input[0]!.dims, [1]);
  assert.deepEqual(bare.input[0]!.reshape, { shape: [] });
  validateConfig(bare, scalar);
  const noDims = { ...bare, input: [{ ...bare.input[0]!, dims: [] }] };
  assert.throws(() => validateConfig(noDims, scalar), { message: "model 'x': model input 's' must specify 'dims'" });
  const noType = { ...bare, input: [{ ...bare.input[0]!, data_type: 'TYPE_INVALID' as const }] };
  assert.throws(() => validateConfig(noType, scalar), { message: "model 'x': model input 's' must specify 'data_type'" });
  rejects('max_batch_size: 8 input { name: "INPUT0" dims: [0] }',
    "model 'x': model input 'INPUT0' dimension must be integer >= 1, or -1 to indicate a variable-size dimension");
  rejects('max_batch_size: 8 input { name: "INPUT0" dims: [-2] }',
    "model 'x': model input 'INPUT0' dimension must be integer >= 1, or -1 to indicate a variable-size dimension");
  rejects('max_batch_size: 8 input { name: "INPUT1" dims: [16] reshape { shape: [0, 4] } }',
    "model 'x': model input 'INPUT1' reshape dimensions must be integer >= 1, or -1 to indicate a variable-size dimension");
  rejects('max_batch_size: 8 input { name: "INPUT1" dims: [15] reshape { shape: [4, 4] } }',
    "model 'x': model input 'INPUT1' has different size for dims and reshape");
  rejects('max_batch_size: 8 input { name: "INPUT1" dims: [-1] reshape { shape: [4, 4] } }',
    "model 'x': model input 'INPUT1' has different number of variable-size dimensions for dims and reshape");
  rejects('max_batch_size: 8 input { name: "INPUT1" dims: [-1, 3] reshape { shape: [-1, 4] } }',
    "model 'x': model input 'INPUT1' has different size for dims and reshape");
  check('max_batch_size: 8 input { name: "INPUT1" dims: [-1, 4] reshape { shape: [-1, 4] } }', {
    inputs: [{ name: 'INPUT1', data_type: 'TYPE_FP32', dims: [-1, -1, 4] }], outputs: [],
  });
  rejects('max_batch_size: 8 output { name: "OUTPUT0" dims: [4, 4] reshape { shape: [2, 8] } }',
    "model 'x': output 'OUTPUT0': the model expects shape [-1,16] but the configuration specifies [-1,2,8] (the batch dimension -1 is prepended because max_batch_size > 0)");
  rejects('max_batch_size: 8 input { name: "INPUT0" format: FORMAT_NHWC }', "model 'x': model input 'INPUT0' NHWC/NCHW require 3 dims");
  rejects('input { name: "INPUT0" is_shape_tensor: true }',
    "model 'x': model input 'INPUT0' is a shape tensor: shape tensors are only supported for TensorRT platform");
  rejects('input { name: "INPUT0" allow_ragged_batch: true }', "model 'x': model input 'INPUT0' sets allow_ragged_batch, which is not supported");
});

test('label files', () => {
  const text = 'output { name: "OUTPUT0" label_filename: "labels.txt" }';
  rejects(text, "model 'x': label file 'labels.txt' for output 'OUTPUT0' does not exist", ONNX, { labelFileExists: () => false });
  check(text, ONNX, { labelFileExists: (f) => f === 'labels.txt' });
  check(text); // no checker: no check
});

test('version policy', () => {
  rejects('version_policy { latest { num_versions: 0 } }', "model 'x': version_policy 'latest' must have num_versions >= 1");
  rejects('version_policy { specific { versions: [1, 0] } }', "model 'x': version_policy 'specific' versions must be positive integers");
});

test("dynamic batching: Triton's checks", () => {
  rejects('max_batch_size: 8 dynamic_batching { preferred_batch_size: [16] }',
    "model 'x': dynamic batching preferred size must be <= max batch size");
  rejects('max_batch_size: 0 input { name: "INPUT0" dims: [-1, 16] } dynamic_batching { preferred_batch_size: [1] }',
    "model 'x': dynamic batching preferred size must be <= max batch size");
  rejects('max_batch_size: 8 dynamic_batching { preferred_batch_size: [0] }',
    "model 'x': dynamic batching preferred size must be positive");
  rejects('dynamic_batching { priority_levels: 2 }', "model 'x': default priority level must be in range [1, 2]");
  rejects('dynamic_batching { priority_levels: 2 default_priority_level: 3 }', "model 'x': default priority level must be in range [1, 2]");
  rejects('dynamic_batching { priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 3 value {} } }',
    "model 'x': priority queue policy must have priority level in range [1, 2]");
  rejects('dynamic_batching { priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 0 value {} } }',
    "model 'x': priority queue policy must have priority level in range [1, 2]");
  rejects('dynamic_batching { preserve_ordering: true priority_levels: 2 default_priority_level: 1 }',
    "model 'x': Only one priority level is allowed when 'preserve_ordering' is true");
  rejects('dynamic_batching { preserve_ordering: true default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 10 } }',
    "model 'x': Queue policy can not have DELAY as timeout action when 'preserve_ordering' is true");
  check('dynamic_batching { preserve_ordering: true default_queue_policy { timeout_action: DELAY } }');
  // priority_levels 0: default level and policies are not looked at (as Triton)
  check('dynamic_batching { default_priority_level: 5 }');
});

test("instance groups: Triton's messages", () => {
  rejects('instance_group { kind: KIND_GPU }', 'instance group x_0 of model x has kind KIND_GPU but no GPUs are available');
  rejects('instance_group { name: "g" kind: KIND_GPU gpus: [2] }', 'instance group g of model x specifies invalid or unsupported gpu id of 2',
    ONNX, { gpuCount: 2 });
  rejects('instance_group { kind: KIND_CPU gpus: [0] }', 'instance group x_0 of model x has kind KIND_CPU but specifies one or more GPUs');
  rejects('instance_group { kind: KIND_AUTO gpus: [0] }', 'instance group x_0 of model x has kind KIND_CPU but specifies one or more GPUs');
  rejects('instance_group { kind: KIND_MODEL }', 'instance group x_0 of model x has kind KIND_MODEL which is supported only on TensorFlow models');
  check('instance_group { kind: KIND_GPU gpus: [1] }', ONNX, { gpuCount: 2 });
});

test('model warmup', () => {
  const w = (body: string) => `max_batch_size: 4 model_warmup { name: "w" ${body} }`;
  const both = 'inputs { key: "INPUT0" value { data_type: TYPE_FP32 dims: 16 zero_data: true } } '
    + 'inputs { key: "INPUT1" value { data_type: TYPE_FP32 dims: [4, 4] random_data: true } }';
  check(w(`batch_size: 4 ${both}`));
  rejects(`max_batch_size: 4 model_warmup { batch_size: 1 ${both} }`, "model 'x': model_warmup must specify 'name'");
  rejects(w(both), "model 'x': model_warmup 'w': batch_size must be >= 1");
  rejects(w(`batch_size: 5 ${both}`), "model 'x': model_warmup 'w': batch_size 5 exceeds max_batch_size 4");
  // A non-batching model ignores batch_size, as Triton does.
  const fixed: OnnxModelInfo = { inputs: [{ name: 'a', data_type: 'TYPE_FP32', dims: [2] }], outputs: [] };
  const fixedInputs = 'inputs { key: "a" value { data_type: TYPE_FP32 dims: 2 zero_data: true } }';
  check(`model_warmup { name: "w" ${fixedInputs} }`, fixed);
  check(`model_warmup { name: "w" batch_size: 3 ${fixedInputs} }`, fixed);
  rejects(w(`batch_size: 1 ${both} inputs { key: "NOPE" value { data_type: TYPE_FP32 dims: 1 zero_data: true } }`),
    "model 'x': model_warmup 'w': unknown input 'NOPE'");
  rejects(w('batch_size: 1 inputs { key: "INPUT0" value { data_type: TYPE_INT32 dims: 16 zero_data: true } }'),
    "model 'x': model_warmup 'w': input 'INPUT0' has datatype TYPE_INT32 but the model input is TYPE_FP32");
  rejects('max_batch_size: 4 input { name: "INPUT0" dims: [-1] } model_warmup { name: "w" batch_size: 1 '
    + 'inputs { key: "INPUT0" value { data_type: TYPE_FP32 dims: -1 zero_data: true } } }',
  "model 'x': model_warmup 'w': warmup setting expects all variable-size dimensions are specified for input 'INPUT0'");
  rejects(w('batch_size: 1 inputs { key: "INPUT0" value { data_type: TYPE_FP32 dims: 15 zero_data: true } }'),
    "model 'x': model_warmup 'w': input 'INPUT0' dims [15] do not match the model input's dims [16]");
  rejects(w('batch_size: 1 inputs { key: "INPUT0" value { data_type: TYPE_FP32 dims: 16 } }'),
    "model 'x': model_warmup 'w': input 'INPUT0' must specify zero_data, random_data or input_data_file");
  rejects(w('batch_size: 1 inputs { key: "INPUT0" value { data_type: TYPE_FP32 dims: 16 input_data_file: "f" } }'),
    "model 'x': model_warmup 'w': missing input 'INPUT1'");
  check('max_batch_size: 4 input { name: "INPUT1" optional: true } model_warmup { name: "w" batch_size: 1 '
    + 'inputs { key: "INPUT0" value { data_type: TYPE_FP32 dims: 16 input_data_file: "f" } } }');
});

test('dimsCompatible', () => {
  assert.equal(dimsCompatible([-1, 3], [5, 3]), true);
  assert.equal(dimsCompatible([2, 3], [2, -1]), true);
  assert.equal(dimsCompatible([2, 3], [2, 4]), false);
  assert.equal(dimsCompatible([2], [2, 1]), false);
  assert.equal(dimsCompatible([], []), true);
});
