/** Unit tests of src/codec/grpc-infer.ts, without a server. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkModelVersion, decodeInferParameter, decodeInferRequest, encodeInferParameter, encodeInferResponse,
} from '../../../src/codec/grpc-infer.js';
import type { ModelInferRequestMsg } from '../../../src/codec/grpc-messages.js';
import { InvalidArgument } from '../../../src/errors/errors.js';

function request(over: Partial<ModelInferRequestMsg> = {}): ModelInferRequestMsg {
  return {
    model_name: 'm', model_version: '', id: '', parameters: {}, outputs: [],
    inputs: [{ name: 'A', datatype: 'UINT8', shape: ['2'], parameters: {}, contents: null }],
    raw_input_contents: [Buffer.from([1, 2])],
    ...over,
  };
}

describe('grpc-infer codec', () => {
  it('model versions: empty or digits; Triton\'s messages otherwise', () => {
    assert.equal(checkModelVersion(''), '');
    assert.equal(checkModelVersion('12'), '12');
    assert.throws(() => checkModelVersion('1.5'), {
      name: 'InvalidArgument',
      message: "failed to get model version from specified version string '1.5' (details: stol), version should be an integral value > 0",
    });
    assert.throws(() => checkModelVersion('-1'), {
      message: "invalid model version specified '-1' , version should be an integral value > 0",
    });
  });

  it('InferParameter <-> JS values, exact for 64-bit', () => {
    assert.equal(decodeInferParameter({ parameter_choice: 'bool_param', bool_param: false }), false);
    assert.equal(decodeInferParameter({ parameter_choice: 'int64_param', int64_param: '-42' }), -42);
    assert.equal(decodeInferParameter({ parameter_choice: 'int64_param', int64_param: '-9223372036854775808' }), -(2n ** 63n));
    assert.equal(decodeInferParameter({ parameter_choice: 'uint64_param', uint64_param: '18446744073709551615' }), 2n ** 64n - 1n);
    assert.equal(decodeInferParameter({ parameter_choice: 'double_param', double_param: 0.25 }), 0.25);
    assert.equal(decodeInferParameter({ parameter_choice: 'string_param', string_param: 's' }), 's');
    assert.equal(decodeInferParameter({}), undefined);
    assert.deepEqual(encodeInferParameter(true), { bool_param: true });
    assert.deepEqual(encodeInferParameter(3), { int64_param: 3 });
    assert.deepEqual(encodeInferParameter(3.5), { double_param: 3.5 });
    assert.deepEqual(encodeInferParameter('x'), { string_param: 'x' });
    assert.deepEqual(encodeInferParameter(-(2n ** 63n)), { int64_param: '-9223372036854775808' });
    assert.deepEqual(encodeInferParameter(2n ** 64n - 1n), { uint64_param: '18446744073709551615' });
  });

  it('a parameter with no value set is INVALID_ARGUMENT', () => {
    assert.throws(() => decodeInferRequest(request({ parameters: { p: {} } }), { deadline: Infinity }), {
      message: "invalid value type for 'p' parameter, expected bool_param, int64_param, string_param, double_param or uint64_param.",
    });
  });

  it('raw inputs are the received bytes, not copies; outputs are the tensors\' bytes', () => {
    const raw = Buffer.from([1, 2]);
    const req = decodeInferRequest(request({ raw_input_contents: [raw] }), { deadline: 12 });
    assert.equal(req.inputs[0]!.data, raw);
    assert.equal(req.deadline, 12);
    assert.equal(req.signal, undefined);
    const data = new Uint8Array([9, 9]);
    const msg = encodeInferResponse({
      modelName: 'm', modelVersion: '1', id: 'i', outputs: [{ name: 'O', datatype: 'UINT8', shape: [2], data }],
    });
    assert.equal(msg.raw_output_contents[0], data);
    assert.deepEqual(msg.outputs, [{ name: 'O', datatype: 'UINT8', shape: [2] }]);
    assert.equal(msg.parameters, undefined);
  });

  it('a parameter named __proto__ is kept as a plain own key', () => {
    const parameters = {};
    Object.defineProperty(parameters, '__proto__', {
      value: { parameter_choice: 'int64_param', int64_param: '1' }, enumerable: true, writable: true, configurable: true,
    });
    const req = decodeInferRequest(request({ parameters }), { deadline: Infinity });
    assert.equal(Object.getPrototypeOf(req.parameters), Object.prototype);
    assert.deepEqual(Object.keys(req.parameters), ['__proto__']);
  });

  it('typed INT8/INT16/UINT8/UINT16 keep the low bytes of each element, as Triton does', () => {
    const req = decodeInferRequest(request({
      inputs: [
        { name: 'a', datatype: 'INT8', shape: ['2'], parameters: {}, contents: { int_contents: [-1, 300] } },
        { name: 'b', datatype: 'UINT16', shape: ['1'], parameters: {}, contents: { uint_contents: [65537] } },
      ],
      raw_input_contents: [],
    }), { deadline: Infinity });
    assert.deepEqual([...req.inputs[0]!.data], [255, 44]);
    assert.deepEqual([...req.inputs[1]!.data], [1, 0]);
  });

  it('priority and timeout: the wire types and values Triton takes, with its texts', () => {
    const decode = (parameters: ModelInferRequestMsg['parameters']) => decodeInferRequest(request({ parameters }), { deadline: Infinity });
    assert.equal(decode({ priority: { parameter_choice: 'int64_param', int64_param: 2 } }).parameters.priority, 2);
    assert.equal(decode({ priority: { parameter_choice: 'uint64_param', uint64_param: '3' } }).parameters.priority, 3);
    assert.equal(decode({ timeout: { parameter_choice: 'int64_param', int64_param: '1000' } }).parameters.timeout, 1000);
    for (const p of [{ parameter_choice: 'bool_param', bool_param: true }, { parameter_choice: 'double_param', double_param: 1 }, { parameter_choice: 'string_param', string_param: '1' }] as const) {
      assert.throws(() => decode({ priority: p }), { name: 'InvalidArgument', message: "invalid value type for 'priority' parameter, expected int64_param or uint64_param." });
      assert.throws(() => decode({ timeout: p }), { name: 'InvalidArgument', message: "invalid value type for 'timeout' parameter, expected int64_param." });
    }
    assert.throws(() => decode({ timeout: { parameter_choice: 'uint64_param', uint64_param: '5' } }), { message: "invalid value type for 'timeout' parameter, expected int64_param." });
    for (const v of [-1, '-9223372036854775808']) {
      assert.throws(() => decode({ priority: { parameter_choice: 'int64_param', int64_param: v } }), { name: 'InvalidArgument', message: "invalid value for 'priority', expected value >= 0." });
    }
  });

  it('errors are InvalidArgument (INVALID_ARGUMENT on the wire)', () => {
    assert.throws(() => decodeInferRequest(request({ raw_input_contents: [] }), { deadline: Infinity }), InvalidArgument);
  });
});
