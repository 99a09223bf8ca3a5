import { test } from 'node:test';
import assert from 'node:assert/strict';

import { fromJsonConfig } from '../../src/config/from-json.js';
import { fromJsonConfig as reexported, fromPbtxt } from '../../src/config/from-pbtxt.js';
import { ConfigParseError } from '../../src/config/errors.js';

test('proto JSON with proto field names gives the same partial as pbtxt', () => {
  const json = JSON.stringify({
    name: 'simple',
    max_batch_size: 8,
    input: [{ name: 'INPUT0', data_type: 'TYPE_INT32', dims: [16] }],
    output: [{ name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: ['16'], label_filename: 'l.txt' }],
    version_policy: { specific: { versions: ['1', 2] } },
    dynamic_batching: {
      max_queue_delay_microseconds: '100',
      priority_levels: 2,
      default_priority_level: 1,
      priority_queue_policy: { 1: { timeout_action: 'DELAY' } },
    },
    parameters: { intra_op_thread_count: { string_value: '1' } },
    metric_tags: { a: 'b' },
    model_warmup: [{ name: 'w', batch_size: 1, inputs: { INPUT0: { data_type: 'TYPE_INT32', dims: [16], random_data: true } } }],
    instance_group: [{ kind: 'KIND_CPU', count: 1 }],
    response_cache: { enable: true },
  });
  const pbtxt = `
    name: "simple" max_batch_size: 8
    input { name: "INPUT0" data_type: TYPE_INT32 dims: 16 }
    output { name: "OUTPUT0" data_type: TYPE_INT32 dims: 16 label_filename: "l.txt" }
    version_policy { specific { versions: [1, 2] } }
    dynamic_batching { max_queue_delay_microseconds: 100 priority_levels: 2 default_priority_level: 1
      priority_queue_policy { key: 1 value { timeout_action: DELAY } } }
    parameters { key: "intra_op_thread_count" value { string_value: "1" } }
    metric_tags { key: "a" value: "b" }
    model_warmup { name: "w" batch_size: 1 inputs { key: "INPUT0" value { data_type: TYPE_INT32 dims: 16 random_data: true } } }
    instance_group { kind: KIND_CPU count: 1 }
    response_cache { enable: true }`;
  assert.deepEqual(fromJsonConfig(json), fromPbtxt(pbtxt));
  assert.equal(reexported, fromJsonConfig);
});

test('lowerCamelCase names, enum numbers, null as unset, ignored fields', () => {
  assert.deepEqual(fromJsonConfig(JSON.stringify({
    maxBatchSize: 4,
    input: [{ name: 'x', dataType: 11, dims: [-1] }],
    dynamicBatching: { preferredBatchSize: [2], defaultQueuePolicy: { timeoutAction: 1 } },
    backend: null,
    ensemble_scheduling: { anything: [1, 2] },
  })), {
    max_batch_size: 4,
    input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [-1] }],
    dynamic_batching: { preferred_batch_size: [2], default_queue_policy: { timeout_action: 'DELAY' } },
  });
});

function fails(json: string, message: string): void {
  assert.throws(() => fromJsonConfig(json), (err: unknown) => {
    assert.ok(err instanceof ConfigParseError);
    assert.equal(err.code, 'INVALID_ARG');
    assert.equal(err.message, message);
    return true;
  });
}

test('errors name the bad field by path', () => {
  fails('{"name": ', `invalid model config JSON: ${(() => { try { JSON.parse('{"name": '); } catch (e) { return (e as Error).message; } return ''; })()}`);
  fails('[]', 'invalid model config JSON: expected an object for inference.ModelConfig');
  fails('{"foo": 1}', "invalid model config JSON: field 'foo': unknown field 'foo' in inference.ModelConfig");
  fails('{"input": [{"name": "a"}, {"dtype": 1}]}',
    "invalid model config JSON: field 'input[1].dtype': unknown field 'dtype' in inference.ModelInput");
  fails('{"input": [{"data_type": "TYPE_FOO"}]}',
    `invalid model config JSON: field 'input[0].data_type': invalid value "TYPE_FOO" for enum inference.DataType`);
  fails('{"max_batch_size": "eight"}', `invalid model config JSON: field 'max_batch_size': expected an integer, found "eight"`);
  fails('{"max_batch_size": 1.5}', 'invalid model config JSON: field \'max_batch_size\': expected an integer, found 1.5');
  fails('{"max_batch_size": 4294967296}', "invalid model config JSON: field 'max_batch_size': value 4294967296 is out of range for int32");
  fails('{"name": 1}', "invalid model config JSON: field 'name': expected a string, found 1");
  fails('{"response_cache": {"enable": "true"}}', `invalid model config JSON: field 'response_cache.enable': expected true or false, found "true"`);
  fails('{"input": {"name": "a"}}', "invalid model config JSON: field 'input': expected an array for a repeated field");
  fails('{"metric_tags": []}', "invalid model config JSON: field 'metric_tags': expected an object for a map field");
  fails('{"metric_tags": {"a": 1}}', `invalid model config JSON: field 'metric_tags["a"]': expected a string, found 1`);
  fails('{"dynamic_batching": {"priority_queue_policy": {"x": {}}}}',
    `invalid model config JSON: field 'dynamic_batching.priority_queue_policy["x"]': invalid map key: expected a non-negative integer`);
  fails('{"version_policy": {"latest": {}, "all": {}}}',
    "invalid model config JSON: field 'version_policy.all': cannot be set along with 'latest' (same oneof)");
  fails('{"max_batch_size": 1, "maxBatchSize": 2}',
    "invalid model config JSON: field 'maxBatchSize': field 'max_batch_size' is given twice (as 'max_batch_size' and 'maxBatchSize')");
  fails('{"optimization": {"graph": 3}}', "invalid model config JSON: field 'optimization.graph': expected an object for inference.ModelOptimizationPolicy.Graph");
});
