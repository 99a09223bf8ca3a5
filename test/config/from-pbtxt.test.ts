import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

import { fromPbtxt } from '../../src/config/from-pbtxt.js';
import { ConfigParseError } from '../../src/config/errors.js';

// Triton's docs/examples `simple` model config, with the platform Osprey serves.
const SIMPLE = `
name: "simple"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  {
    name: "INPUT0"
    data_type: TYPE_INT32
    dims: [ 16 ]
  },
  {
    name: "INPUT1"
    data_type: TYPE_INT32
    dims: [ 16 ]
  }
]
output [
  {
    name: "OUTPUT0"
    data_type: TYPE_INT32
    dims: [ 16 ]
  },
  {
    name: "OUTPUT1"
    data_type: TYPE_INT32
    dims: [ 16 ]
  }
]
`;

test("Triton's simple config", () => {
  assert.deepEqual(fromPbtxt(SIMPLE), {
    name: 'simple',
    platform: 'onnxruntime_onnx',
    max_batch_size: 8,
    input: [
      { name: 'INPUT0', data_type: 'TYPE_INT32', dims: [16] },
      { name: 'INPUT1', data_type: 'TYPE_INT32', dims: [16] },
    ],
    output: [
      { name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: [16] },
      { name: 'OUTPUT1', data_type: 'TYPE_INT32', dims: [16] },
    ],
  });
});

// Every field of the schema, in the forms config.pbtxt files use.
const EVERYTHING = `
name: "full"
platform: "onnxruntime_onnx"
backend: "onnxruntime"
version_policy: { latest: { num_versions: 2 } }
max_batch_size: 16
input [
  {
    name: "image"
    data_type: TYPE_FP32
    format: FORMAT_NCHW
    dims: [ 3, 224, 224 ]
    reshape: { shape: [ 1, 3, 224, 224 ] }
    is_shape_tensor: false
    allow_ragged_batch: false
    optional: true
  }
]
output [
  {
    name: "probs"
    data_type: TYPE_FP16
    dims: [ 1000 ]
    label_filename: "labels.txt"
    reshape { shape: [ 1000 ] }
    is_shape_tensor: false
  }
]
instance_group [
  { name: "cpus" count: 3 kind: KIND_CPU },
  { kind: KIND_GPU gpus: [ 0, 1 ] }
]
default_model_filename: "net.onnx"
metric_tags { key: "team" value: "vision" }
metric_tags { key: "tier" value: "gold" }
dynamic_batching {
  preferred_batch_size: [ 4, 8 ]
  max_queue_delay_microseconds: 100
  preserve_ordering: false
  priority_levels: 2
  default_priority_level: 1
  default_queue_policy {
    timeout_action: DELAY
    default_timeout_microseconds: 5000
    allow_timeout_override: true
    max_queue_size: 64
  }
  priority_queue_policy {
    key: 2
    value: { timeout_action: REJECT max_queue_size: 8 }
  }
}
optimization {
  graph { level: 1 }
  execution_accelerators {
    cpu_execution_accelerator : [ { name : "openvino" } ]
    gpu_execution_accelerator : [ {
      name : "tensorrt"
      parameters { key: "precision_mode" value: "FP16" }
      parameters { key: "max_workspace_size_bytes" value: "1073741824" }
    } ]
  }
  input_pinned_memory { enable: true }
}
parameters { key: "intra_op_thread_count" value: { string_value: "2" } }
parameters [ { key: "execution_mode" value { string_value: "0" } } ]
model_warmup [
  {
    name: "zeros"
    batch_size: 2
    inputs { key: "image" value: { data_type: TYPE_FP32 dims: [ 3, 224, 224 ] zero_data: true } }
    count: 3
  },
  {
    name: "file"
    batch_size: 1
    inputs [ { key: "image" value { data_type: TYPE_FP32 dims: [3, 224, 224] input_data_file: "raw.bin" } } ]
  }
]
response_cache { enable: true }
ensemble_scheduling { step [ { model_name: "a" } ] }
model_transaction_policy { decoupled: false }
`;

test('every schema field', () => {
  assert.deepEqual(fromPbtxt(EVERYTHING), {
    name: 'full',
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    version_policy: { latest: { num_versions: 2 } },
    max_batch_size: 16,
    input: [{
      name: 'image', data_type: 'TYPE_FP32', format: 'FORMAT_NCHW', dims: [3, 224, 224],
      reshape: { shape: [1, 3, 224, 224] }, is_shape_tensor: false, allow_ragged_batch: false, optional: true,
    }],
    output: [{
      name: 'probs', data_type: 'TYPE_FP16', dims: [1000], label_filename: 'labels.txt',
      reshape: { shape: [1000] }, is_shape_tensor: false,
    }],
    instance_group: [{ name: 'cpus', count: 3, kind: 'KIND_CPU' }, { kind: 'KIND_GPU', gpus: [0, 1] }],
    default_model_filename: 'net.onnx',
    metric_tags: { team: 'vision', tier: 'gold' },
    dynamic_batching: {
      preferred_batch_size: [4, 8],
      max_queue_delay_microseconds: 100,
      preserve_ordering: false,
      priority_levels: 2,
      default_priority_level: 1,
      default_queue_policy: {
        timeout_action: 'DELAY', default_timeout_microseconds: 5000, allow_timeout_override: true, max_queue_size: 64,
      },
      priority_queue_policy: { 2: { timeout_action: 'REJECT', max_queue_size: 8 } },
    },
    optimization: {
      graph: { level: 1 },
      execution_accelerators: {
        cpu_execution_accelerator: [{ name: 'openvino' }],
        gpu_execution_accelerator: [{
          name: 'tensorrt', parameters: { precision_mode: 'FP16', max_workspace_size_bytes: '1073741824' },
        }],
      },
    },
    parameters: { intra_op_thread_count: { string_value: '2' }, execution_mode: { string_value: '0' } },
    model_warmup: [
      { name: 'zeros', batch_size: 2, inputs: { image: { data_type: 'TYPE_FP32', dims: [3, 224, 224], zero_data: true } }, count: 3 },
      { name: 'file', batch_size: 1, inputs: { image: { data_type: 'TYPE_FP32', dims: [3, 224, 224], input_data_file: 'raw.bin' } } },
    ],
    response_cache: { enable: true },
  });
});

test('version policy forms', () => {
  assert.deepEqual(fromPbtxt('version_policy: { all: {} }').version_policy, { all: {} });
  assert.deepEqual(fromPbtxt('version_policy { all { } }').version_policy, { all: {} });
  assert.deepEqual(fromPbtxt('version_policy: { specific: { versions: [1, 3] } }').version_policy, { specific: { versions: [1, 3] } });
  assert.deepEqual(fromPbtxt('version_policy { latest {} }').version_policy, { latest: {} });
});

test('every data type; enums by number; bools in every form', () => {
  const types = ['TYPE_BOOL', 'TYPE_UINT8', 'TYPE_UINT16', 'TYPE_UINT32', 'TYPE_UINT64', 'TYPE_INT8', 'TYPE_INT16',
    'TYPE_INT32', 'TYPE_INT64', 'TYPE_FP16', 'TYPE_FP32', 'TYPE_FP64', 'TYPE_STRING', 'TYPE_BF16'];
  const text = types.map((t) => `input { data_type: ${t} }`).join('\n');
  assert.deepEqual(fromPbtxt(text).input!.map((i) => i!.data_type), types);
  assert.equal(fromPbtxt('input { data_type: 11 }').input![0]!.data_type, 'TYPE_FP32');
  assert.equal(fromPbtxt('instance_group { kind: 2 }').instance_group![0]!.kind, 'KIND_CPU');
  const bools = fromPbtxt('input { optional: true } input { optional: False } input { optional: t } input { optional: 0 } input { optional: 1 }');
  assert.deepEqual(bools.input!.map((i) => i!.optional), [true, false, true, false, true]);
});

test('repeated scalar given by repetition or a single value', () => {
  assert.deepEqual(fromPbtxt('input { dims: 3 dims: 4 }').input![0]!.dims, [3, 4]);
  assert.deepEqual(fromPbtxt('input { dims: -1 }').input![0]!.dims, [-1]);
  assert.deepEqual(fromPbtxt('input { dims: [] }').input![0]!.dims, []);
});

test('map entries: later key wins; missing key/value mean defaults', () => {
  assert.deepEqual(fromPbtxt('metric_tags { key: "a" value: "1" } metric_tags { key: "a" value: "2" }').metric_tags, { a: '2' });
  assert.deepEqual(fromPbtxt('metric_tags { value: "x" } metric_tags { key: "b" }').metric_tags, { '': 'x', b: '' });
  assert.deepEqual(fromPbtxt('parameters { key: "p" }').parameters, { p: {} });
  assert.deepEqual(fromPbtxt('dynamic_batching { priority_queue_policy { value { max_queue_size: 1 } } }')
    .dynamic_batching!.priority_queue_policy, { 0: { max_queue_size: 1 } });
});

test('ensemble_scheduling and other Triton-only fields are accepted and dropped', () => {
  assert.deepEqual(fromPbtxt(`
    ensemble_scheduling { step [ { model_name: "a" model_version: -1 input_map { key: "x" value: "y" } } ] }
    model_repository_agents { agents [ { name: "checksum" } ] }
    instance_group [ { count: 1 kind: KIND_CPU rate_limiter { resources [ { name: "R1" count: 4 } ] } } ]
    optimization { priority: PRIORITY_MAX cuda { graphs: true } }
  `), { instance_group: [{ count: 1, kind: 'KIND_CPU' }], optimization: {} });
});

function fails(text: string, message: string): void {
  assert.throws(() => fromPbtxt(text, '/m/config.pbtxt'), (err: unknown) => {
    assert.ok(err instanceof ConfigParseError);
    assert.equal(err.code, 'INVALID_ARG');
    assert.equal(err.message, message);
    return true;
  });
}

test('schema errors name file:line:col and the field', () => {
  fails('name: "x"\nfoo: 1', "/m/config.pbtxt:2:1: unknown field 'foo' in inference.ModelConfig");
  fails('input [\n  { name: "a" dtype: TYPE_FP32 }\n]', "/m/config.pbtxt:2:15: unknown field 'dtype' in inference.ModelInput");
  fails('dynamic_batching { default_queue_policy { timeout: 1 } }',
    "/m/config.pbtxt:1:43: unknown field 'timeout' in inference.ModelQueuePolicy");
  fails('input { data_type: TYPE_FOO }',
    "/m/config.pbtxt:1:20: invalid value 'TYPE_FOO' for enum field 'data_type' (inference.DataType)");
  fails('input { data_type: FP32 }', "/m/config.pbtxt:1:20: invalid value 'FP32' for enum field 'data_type' (inference.DataType)");
  fails('input { data_type: 15 }', "/m/config.pbtxt:1:20: invalid value '15' for enum field 'data_type' (inference.DataType)");
  fails('input { data_type: "TYPE_FP32" }', `/m/config.pbtxt:1:20: invalid value "TYPE_FP32" for enum field 'data_type' (inference.DataType)`);
  fails('name: 5', "/m/config.pbtxt:1:7: expected a string for field 'name', found '5'");
  fails('max_batch_size: "8"', `/m/config.pbtxt:1:17: expected an integer for field 'max_batch_size', found "8"`);
  fails('max_batch_size: 1.5', "/m/config.pbtxt:1:17: expected an integer for field 'max_batch_size', found '1.5'");
  fails('max_batch_size: 2147483648', "/m/config.pbtxt:1:17: value 2147483648 is out of range for int32 for field 'max_batch_size'");
  fails('dynamic_batching { max_queue_delay_microseconds: -1 }',
    "/m/config.pbtxt:1:50: expected a non-negative integer, found -1 for field 'max_queue_delay_microseconds'");
  fails('dynamic_batching { max_queue_delay_microseconds: 18446744073709551615 }',
    "/m/config.pbtxt:1:50: value 18446744073709551615 is too large (the limit is 9007199254740991) for field 'max_queue_delay_microseconds'");
  fails('response_cache { enable: yes }', "/m/config.pbtxt:1:26: expected true or false for field 'enable', found 'yes'");
  fails('response_cache { enable: 2 }', "/m/config.pbtxt:1:26: expected true or false for field 'enable', found '2'");
  fails('name: "a"\nname: "b"', "/m/config.pbtxt:2:1: non-repeated field 'name' is specified multiple times");
  fails('name: ["a"]', "/m/config.pbtxt:1:1: field 'name' is not repeated and cannot take a list");
  fails('reshape: 1', "/m/config.pbtxt:1:1: unknown field 'reshape' in inference.ModelConfig");
  fails('input { reshape: 1 }', "/m/config.pbtxt:1:18: expected a message for field 'reshape', found a value");
  fails('input { name { } }', "/m/config.pbtxt:1:14: expected a value for field 'name', found a message");
  fails('version_policy { latest {} all {} }',
    "/m/config.pbtxt:1:28: field 'all' is specified along with field 'latest', another member of the same oneof");
  fails('model_warmup { inputs { key: "x" value { zero_data: true random_data: true } } }',
    "/m/config.pbtxt:1:58: field 'random_data' is specified along with field 'zero_data', another member of the same oneof");
  fails('metric_tags { key: "a" val: "b" }', "/m/config.pbtxt:1:24: unknown field 'val' in an entry of map field 'metric_tags'");
  fails('metric_tags: "a"', "/m/config.pbtxt:1:14: expected a { key: ... value: ... } entry for map field 'metric_tags'");
  fails('metric_tags { key: 1 value: "b" }', "/m/config.pbtxt:1:20: expected a string for field 'metric_tags.key', found '1'");
  fails('metric_tags { key: "a" key: "b" }', "/m/config.pbtxt:1:24: non-repeated field 'key' is specified multiple times");
  fails('dynamic_batching { priority_queue_policy { key: -1 value {} } }',
    "/m/config.pbtxt:1:49: expected a non-negative integer, found -1 for field 'priority_queue_policy.key'");
  fails('parameters { key: "a" value: "b" }',
    "/m/config.pbtxt:1:30: expected a message for field 'parameters.value', found a value");
  // syntax errors come through unchanged
  fails('input [ { name: } ]', "/m/config.pbtxt:1:17: expected a value after ':', found '}'");
});

test('every config.pbtxt in model-repository/ parses', () => {
  const repo = join(process.cwd(), 'model-repository');
  if (!existsSync(repo)) return;
  for (const model of readdirSync(repo)) {
    const path = join(repo, model, 'config.pbtxt');
    if (!existsSync(path)) continue;
    const cfg = fromPbtxt(readFileSync(path, 'utf8'), path);
    assert.equal(cfg.name, model);
    assert.equal(cfg.platform, 'onnxruntime_onnx');
  }
});
