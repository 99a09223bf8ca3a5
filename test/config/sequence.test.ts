/**
 * `sequence_batching` config: parsing (with file:line:column errors), completion
 * (defaults, controls and state kept out of the client's inputs/outputs) and
 * validation against the ONNX model, one class of bad input per case.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ConfigParseError } from '../../src/config/errors.js';
import { fromJsonConfig } from '../../src/config/from-json.js';
import { fromPbtxt } from '../../src/config/from-pbtxt.js';
import type { OnnxModelInfo } from '../../src/config/model-config.js';
import { completeConfig } from '../../src/config/normalize.js';
import { validateConfig } from '../../src/config/validate.js';
import { InvalidArgument } from '../../src/errors/errors.js';

/** The accumulator's signature (test/fixtures/sequence/seq_dyna). */
const ONNX: OnnxModelInfo = {
  inputs: [
    { name: 'INPUT', data_type: 'TYPE_INT32', dims: [-1, 1] },
    { name: 'START', data_type: 'TYPE_INT32', dims: [-1, 1] },
    { name: 'END', data_type: 'TYPE_FP32', dims: [-1, 1] },
    { name: 'READY', data_type: 'TYPE_BOOL', dims: [-1, 1] },
    { name: 'CORRID', data_type: 'TYPE_UINT64', dims: [-1, 1] },
    { name: 'ACC_IN', data_type: 'TYPE_INT32', dims: [-1, 1] },
  ],
  outputs: [
    { name: 'OUTPUT', data_type: 'TYPE_INT32', dims: [-1, 1] },
    { name: 'ACC_OUT', data_type: 'TYPE_INT32', dims: [-1, 1] },
  ],
};

const CONTROLS = `
  control_input [
    { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] },
    { name: "END" control [ { kind: CONTROL_SEQUENCE_END fp32_false_true: [ 0, 1 ] } ] },
    { name: "READY" control [ { kind: CONTROL_SEQUENCE_READY bool_false_true: [ false, true ] } ] },
    { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 } ] }
  ]`;
const STATE = 'state [ { input_name: "ACC_IN" output_name: "ACC_OUT" data_type: TYPE_INT32 dims: [ 1 ] } ]';

function build(text: string) {
  return validateConfig(completeConfig(fromPbtxt(text, 'm/config.pbtxt'), 'm', ONNX), ONNX);
}

function seq(body: string, head = 'max_batch_size: 4'): string {
  return `${head}\nsequence_batching {\n${body}\n}`;
}

function rejects(text: string, message: string): void {
  assert.throws(() => build(text), (err: unknown) => {
    assert.ok(err instanceof InvalidArgument, String(err));
    assert.equal(err.message, message);
    return true;
  });
}

describe('sequence_batching config', () => {
  it('completes defaults: direct strategy, 1 s idle, controls and state not listed as inputs/outputs, no dynamic batcher', () => {
    const cfg = build(seq(`${CONTROLS}\n${STATE}`, ''));
    const sb = cfg.sequence_batching!;
    assert.equal(sb.max_sequence_idle_microseconds, 1_000_000);
    assert.deepEqual(sb.direct, { max_queue_delay_microseconds: 0, minimum_slot_utilization: 0 });
    assert.equal(sb.oldest, undefined);
    assert.equal(cfg.max_batch_size, 4, 'batchable ONNX model: max_batch_size auto-completed');
    assert.equal(cfg.dynamic_batching, undefined, 'a sequence model gets no dynamic batcher');
    assert.deepEqual(cfg.input.map((i) => i.name), ['INPUT']);
    assert.deepEqual(cfg.output.map((o) => o.name), ['OUTPUT']);
    assert.deepEqual(sb.control_input[1]!.control[0]!.fp32_false_true, [0, 1]);
    assert.equal(sb.control_input[3]!.control[0]!.data_type, 'TYPE_UINT64');
    assert.ok(Object.isFrozen(sb.state[0]));
  });

  it('reads the oldest strategy and its fields', () => {
    const cfg = build(seq(`max_sequence_idle_microseconds: 2500 oldest { max_candidate_sequences: 6 preferred_batch_size: [ 2, 4 ] max_queue_delay_microseconds: 100 }\n${CONTROLS}\n${STATE}`));
    assert.deepEqual(cfg.sequence_batching!.oldest, { max_candidate_sequences: 6, preferred_batch_size: [2, 4], max_queue_delay_microseconds: 100, preserve_ordering: false });
    assert.equal(cfg.sequence_batching!.direct, undefined);
    assert.equal(cfg.sequence_batching!.max_sequence_idle_microseconds, 2500);
  });

  it('parse errors carry file:line:column: both batchers, both strategies, unknown fields', () => {
    const cases: Array<[string, RegExp]> = [
      ['dynamic_batching { }\nsequence_batching { }', /^m\/config\.pbtxt:2:1: field 'sequence_batching' is specified along with field 'dynamic_batching'/],
      ['sequence_batching {\n  direct { }\n  oldest { }\n}', /^m\/config\.pbtxt:3:3: field 'oldest' is specified along with field 'direct'/],
      ['sequence_batching {\n  control_input [ { name: "S" control [ { kind: CONTROL_SEQUENCE_BEGIN } ] } ]\n}', /^m\/config\.pbtxt:2:/],
      ['sequence_batching { bogus: 1 }', /^m\/config\.pbtxt:1:21: unknown field 'bogus' in inference\.ModelSequenceBatching/],
      ['sequence_batching { state [ { initial_state [ { zero_data: true data_file: "x" } ] } ] }', /^m\/config\.pbtxt:1:.*same oneof/],
    ];
    for (const [text, re] of cases) {
      assert.throws(() => fromPbtxt(text, 'm/config.pbtxt'), (err: unknown) => {
        assert.ok(err instanceof ConfigParseError, String(err));
        assert.match(err.message, re);
        return true;
      });
    }
    // The load API's JSON form follows the same oneof.
    assert.throws(() => fromJsonConfig('{"dynamic_batching": {}, "sequence_batching": {}}'), /cannot be set along with 'dynamic_batching'/);
  });

  it('rejects each kind of bad control', () => {
    const one = (c: string) => seq(`control_input [ ${c} ]\n${STATE}`);
    rejects(one('{ name: "NOPE" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] }'),
      "model 'm': unable to find sequence batching control input 'NOPE' in the model's inputs (model has INPUT, START, END, READY, CORRID, ACC_IN)");
    rejects(one('{ name: "START" control [ { kind: CONTROL_SEQUENCE_START } ] }'),
      "model 'm': sequence batching control 'START' (START) must specify exactly one of int32_false_true, fp32_false_true or bool_false_true");
    rejects(one('{ name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1, 2 ] } ] }'),
      "model 'm': sequence batching control 'START' (START) false_true must have exactly 2 entries [false, true], found 3");
    rejects(one('{ name: "START" control [ { kind: CONTROL_SEQUENCE_START fp32_false_true: [ 0, 1 ] } ] }'),
      "model 'm': sequence batching control 'START' (START) is sent as TYPE_FP32, but the model input 'START' is TYPE_INT32");
    rejects(one('{ name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID } ] }'),
      "model 'm': sequence batching control 'CORRID' (CORRID) must specify 'data_type' TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32 or TYPE_STRING, found TYPE_INVALID");
    rejects(one('{ name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_STRING } ] }'),
      "model 'm': sequence batching control 'CORRID' (CORRID) is sent as TYPE_STRING, but the model input 'CORRID' is TYPE_UINT64");
    rejects(one('{ name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] }, { name: "END" control [ { kind: CONTROL_SEQUENCE_START fp32_false_true: [ 0, 1 ] } ] }'),
      "model 'm': sequence batching specifies multiple START control inputs");
    rejects(one('{ name: "START" control [ ] }'),
      "model 'm': sequence batching control input 'START' must specify exactly one 'control', found 0");
    rejects(`input [ { name: "START" data_type: TYPE_INT32 dims: [ 1 ] } ]\n${one('{ name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] }')}`,
      "model 'm': sequence batching control input 'START' must not also be listed in 'input': the server fills it");
  });

  it('rejects each kind of bad state', () => {
    const st = (s: string) => seq(`state [ ${s} ]`);
    rejects(st('{ input_name: "ACC_IN" output_name: "NOPE" data_type: TYPE_INT32 dims: [ 1 ] }'),
      "model 'm': unable to find sequence batching state output 'NOPE' in the model's outputs");
    rejects(st('{ input_name: "ACC_IN" output_name: "ACC_OUT" data_type: TYPE_FP32 dims: [ 1 ] }'),
      "model 'm': sequence batching state 'ACC_IN' has data_type TYPE_FP32, but the model's 'ACC_IN' is TYPE_INT32");
    rejects(st('{ input_name: "ACC_IN" output_name: "ACC_OUT" data_type: TYPE_INT32 dims: [ 2 ] }'),
      "model 'm': sequence batching state 'ACC_IN': the model's 'ACC_IN' has shape [-1,1], the state [-1,2]");
    rejects(st('{ input_name: "ACC_IN" output_name: "ACC_OUT" data_type: TYPE_INT32 }'),
      "model 'm': sequence batching state 'ACC_IN' must specify 'dims'");
    rejects(st('{ input_name: "ACC_IN" output_name: "ACC_OUT" data_type: TYPE_INT32 dims: [ 1 ] initial_state { data_type: TYPE_INT32 dims: [ 1 ] data_file: "init.bin" } }'),
      "model 'm': sequence batching state 'ACC_IN' initial_state data_file is not supported; use zero_data");
    rejects(st('{ input_name: "ACC_IN" output_name: "ACC_OUT" data_type: TYPE_INT32 dims: [ 1 ] use_growable_memory: true }'),
      "model 'm': sequence batching state 'ACC_IN' sets use_growable_memory, which is not supported");
    rejects(`output [ { name: "ACC_OUT" data_type: TYPE_INT32 dims: [ 1 ] } ]\n${st('{ input_name: "ACC_IN" output_name: "ACC_OUT" data_type: TYPE_INT32 dims: [ 1 ] }')}`,
      "model 'm': sequence batching state 'ACC_IN': output 'ACC_OUT' must not also be listed in 'output': the server keeps it");
  });

  it('rejects bad strategy values', () => {
    rejects(seq(`direct { minimum_slot_utilization: 1.5 }\n${STATE}`), "model 'm': sequence batching minimum_slot_utilization must be in [0, 1], found 1.5");
    rejects(seq(`oldest { preferred_batch_size: [ 8 ] }\n${STATE}`), "model 'm': sequence batching preferred batch size must be <= max batch size");
    rejects(seq(`oldest { max_candidate_sequences: -1 }\n${STATE}`), "model 'm': sequence batching max_candidate_sequences must be non-negative");
  });
});
