/**
 * Unit tests of the HTTP JSON codec (src/codec/json-*.ts, http-response.ts): the exact
 * parser, the request decoder's exact-integer fallback, the tensor writer and the
 * response encoder. No sockets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeInferResponse, outputIsBinary } from '../../../src/codec/http-response.js';
import { assertDepth, parseJsonExact, parseJsonFast } from '../../../src/codec/json-parse.js';
import { decodeIndexBody } from '../../../src/codec/json-control.js';
import { checkRawSize, splitBytes } from '../../../src/codec/raw.js';
import { decodeJsonInferRequest, parseHeaderLength, rawBodyInput } from '../../../src/codec/json-request.js';
import { paramsJson, tensorDataJson } from '../../../src/codec/json-write.js';
import { encodeValues } from '../../../src/codec/raw.js';
import { InvalidArgument } from '../../../src/errors/errors.js';

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));

function throwsInvalid(fn: () => unknown, text: string): void {
  assert.throws(fn, (e: unknown) => e instanceof InvalidArgument && e.message.includes(text), text);
}

describe('parseJsonExact', () => {
  it('keeps integers beyond 2^53 exact and small ones as numbers', () => {
    assert.deepEqual(parseJsonExact('[9007199254740993, -9223372036854775808, 123456789012345678, 42, 1.5e3]'),
      [9007199254740993n, -9223372036854775808n, 123456789012345678n, 42, 1500]);
    assert.equal(parseJsonExact('9007199254740991'), 9007199254740991);
  });

  it('accepts the NaN / Infinity tokens Python writes', () => {
    const v = parseJsonExact('[NaN, Infinity, -Infinity]') as number[];
    assert.ok(Number.isNaN(v[0]));
    assert.deepEqual(v.slice(1), [Infinity, -Infinity]);
  });

  it('parses like JSON.parse otherwise', () => {
    const text = '{"a": [true, false, null, "x\\n\\u00e9\\"", {"b": {}}, []], "c": -0.25e-2, "__proto__": 1}';
    assert.deepEqual(parseJsonExact(text), JSON.parse(text));
    assert.equal(Object.getPrototypeOf(parseJsonExact('{"__proto__": {"x": 1}}')), Object.prototype);
  });

  it('reports RapidJSON-style reasons with offsets', () => {
    const cases: Array<[string, string]> = [
      ['', 'The document is empty. at 0'],
      ['  ', 'The document is empty. at 2'],
      ['{"a":1,}', 'Missing a name for object member. at 7'],
      ['{"a" 1}', 'Missing a colon after a name of object member. at 5'],
      ['{"a":1 "b"}', "Missing a comma or '}' after an object member. at 7"],
      ['[1 2]', "Missing a comma or ']' after an array element. at 3"],
      ['[1,', 'Invalid value. at 3'],
      ['tru', 'Invalid value. at 0'],
      ['"abc', 'Missing a closing quotation mark in string. at 0'],
      ['"\\x"', 'Invalid escape character in string. at 1'],
      ['"\\u12G4"', 'Incorrect hex digit after \\u escape in string. at 1'],
      ['1.', 'Miss fraction part in number. at 2'],
      ['1e+', 'Miss exponent in number. at 3'],
      ['1e999', 'Number too big to be stored in double. at 0'],
      ['[1] x', 'The document root must not be followed by other values. at 4'],
    ];
    for (const [text, reason] of cases) throwsInvalid(() => parseJsonExact(text), `failed to parse the request JSON buffer: ${reason}`);
  });

  it('enforces the depth limit without deep recursion', () => {
    assert.doesNotThrow(() => parseJsonExact('['.repeat(64) + ']'.repeat(64)));
    throwsInvalid(() => parseJsonExact('['.repeat(65) + ']'.repeat(65)), 'JSON nesting is deeper than 64 levels');
    throwsInvalid(() => parseJsonExact('{"a":'.repeat(1e6)), 'JSON nesting is deeper than 64 levels');
  });
});

describe('parseJsonFast / assertDepth', () => {
  it('uses JSON.parse and falls back to the exact parser', () => {
    assert.deepEqual(parseJsonFast('{"a":1}'), { value: { a: 1 }, exact: false });
    const nan = parseJsonFast('[NaN]');
    assert.equal(nan.exact, true);
    throwsInvalid(() => parseJsonFast('{'), 'failed to parse the request JSON buffer: Missing a name for object member. at 1');
  });

  it('assertDepth counts arrays and objects', () => {
    const deep = JSON.parse('['.repeat(70) + ']'.repeat(70));
    throwsInvalid(() => assertDepth(deep, 1), 'deeper than 64');
    assert.doesNotThrow(() => assertDepth(JSON.parse('['.repeat(64) + ']'.repeat(64)), 1));
  });
});

describe('decodeJsonInferRequest', () => {
  it('re-parses exactly when JSON.parse rounded an INT64 value', () => {
    const body = bytes('{"inputs":[{"name":"X","datatype":"INT64","shape":[2],"data":[9007199254740993,-1]}]}');
    const { request } = decodeJsonInferRequest(body, undefined, 'm', '');
    assert.deepEqual(request.inputs[0]!.data, encodeValues('INT64', [9007199254740993n, -1n], 'X'));
  });

  it('converts exact-parsed big integers for float inputs', () => {
    const body = bytes('{"parameters":{"sequence_id":18446744073709551615},"inputs":[{"name":"X","datatype":"FP64","shape":[1],"data":[12345678901234567890]}]}');
    const { request } = decodeJsonInferRequest(body, undefined, 'm', '');
    assert.equal(request.parameters.sequence_id, 18446744073709551615n);
    assert.deepEqual(request.inputs[0]!.data, encodeValues('FP64', [12345678901234567890], 'X'));
  });

  it('accepts NaN/Infinity in float data', () => {
    const body = bytes('{"inputs":[{"name":"X","datatype":"FP32","shape":[3],"data":[NaN,Infinity,-Infinity]}]}');
    const f = new Float32Array(decodeJsonInferRequest(body, undefined, 'm', '').request.inputs[0]!.data.slice().buffer);
    assert.ok(Number.isNaN(f[0]));
    assert.deepEqual([f[1], f[2]], [Infinity, -Infinity]);
  });

  it('slices binary inputs in input order without copying', () => {
    const json = '{"inputs":[{"name":"A","datatype":"UINT8","shape":[2],"parameters":{"binary_data_size":2}},{"name":"B","datatype":"INT8","shape":[1],"data":[-1]},{"name":"C","datatype":"UINT8","shape":[1],"parameters":{"binary_data_size":1,"other":"kept"}}]}';
    const body = new Uint8Array([...Buffer.from(json), 1, 2, 3]);
    const { request, binaryOutputs } = decodeJsonInferRequest(body, json.length, 'm', '7');
    assert.equal(binaryOutputs, false);
    assert.equal(request.modelVersion, '7');
    assert.deepEqual(request.inputs.map((t) => [...t.data]), [[1, 2], [255], [3]]);
    assert.equal(request.inputs[0]!.data.buffer, body.buffer);
    assert.equal(request.inputs[0]!.parameters, undefined);
    assert.deepEqual(request.inputs[2]!.parameters, { other: 'kept' });
  });

  it('FP32 data (the typed-array fast path) is bit-for-bit what DataView.setFloat32 writes, edge values included', () => {
    const edge = [0, -0, 1, -1, 0.1, 1 / 3, 3.4028234663852886e38, 3.4028235677973366e38, 1e39, -1e39, 1e-46, 1.401298464324817e-45,
      5e-324, Number.MAX_VALUE, Number.MIN_SAFE_INTEGER, 16777217, 0.30000000000000004];
    let seed = 7;
    const random = Array.from({ length: 200 }, () => { seed = (seed * 1103515245 + 12345) % 2147483648; return (seed / 2147483648 - 0.5) * 10 ** ((seed % 60) - 30); });
    const values = [...edge, ...random];
    const reference = (vs: number[]): Uint8Array => {
      const out = new Uint8Array(vs.length * 4);
      const dv = new DataView(out.buffer);
      vs.forEach((v, i) => dv.setFloat32(i * 4, v, true));
      return out;
    };
    assert.deepEqual(encodeValues('FP32', values, 'X'), reference(values));
    // Through the JSON decoder as a client would send them (JSON writes -0 as 0).
    const text = JSON.stringify(values);
    const body = bytes(`{"inputs":[{"name":"X","datatype":"FP32","shape":[${values.length}],"data":${text}}]}`);
    assert.deepEqual(decodeJsonInferRequest(body, undefined, 'm', '').request.inputs[0]!.data, reference(JSON.parse(text) as number[]));
    // NaN and infinities (the exact parser's tokens) keep their class.
    const special = new Float32Array(encodeValues('FP32', [NaN, Infinity, -Infinity], 'X').buffer);
    assert.ok(Number.isNaN(special[0]));
    assert.deepEqual([special[1], special[2]], [Infinity, -Infinity]);
  });

  it('FP32 data that is not all numbers: the same refusal as every other datatype', () => {
    for (const bad of ['"1"', 'true', 'null', '{}', '[1]']) {
      const body = bytes(`{"inputs":[{"name":"X","datatype":"FP32","shape":[2],"data":[1,${bad}]}]}`);
      assert.throws(() => decodeJsonInferRequest(body, undefined, 'm', ''), InvalidArgument, bad);
    }
    throwsInvalid(() => encodeValues('FP32', [1, '2'], 'X'), `unable to parse 'data': expected FP32 value for input 'X', got "2"`);
    throwsInvalid(() => encodeValues('FP32', [1, 2n], 'X'), `unable to parse 'data': expected FP32 value for input 'X', got 2`);
    throwsInvalid(() => encodeValues('FP64', [1, '2'], 'X'), `unable to parse 'data': expected FP64 value for input 'X', got "2"`);
  });

  it('header length parsing', () => {
    assert.equal(parseHeaderLength('', 10), undefined);
    assert.equal(parseHeaderLength('0', 10), 0);
    assert.equal(parseHeaderLength('10', 10), 10);
    throwsInvalid(() => parseHeaderLength('11', 10), 'exceeds the request body size 10');
    throwsInvalid(() => parseHeaderLength('-1', 10), 'must be a non-negative integer');
  });
});

describe('text that is not UTF-8 is refused, never changed', () => {
  const body = (...parts: Array<string | number[]>): Uint8Array =>
    new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))));
  const bytesInput = (data: string) => `{"inputs":[{"name":"T","datatype":"BYTES","shape":[2],"data":${data}}]}`;

  it('bytes that are not UTF-8 inside a string: RapidJSON\'s error at their offset', () => {
    const head = '{"id":"a","inputs":[{"name":"T","datatype":"BYTES","shape":[1],"data":["x';
    throwsInvalid(() => decodeJsonInferRequest(body(head, [0xff, 0x41], '"]}]}'), undefined, 'm', ''),
      `failed to parse the request JSON buffer: Invalid encoding in string. at ${Buffer.byteLength(head)}`);
    // After a real U+FFFD and a multi-byte character, the offset still counts bytes.
    throwsInvalid(() => decodeJsonInferRequest(body('{"id":"é�日', [0xc3, 0x28], '","inputs":[]}'), undefined, 'm', ''),
      `Invalid encoding in string. at ${Buffer.byteLength('{"id":"é�日')}`);
    // In the JSON header of a binary request too, and in control bodies.
    throwsInvalid(() => decodeJsonInferRequest(body('{"id":"', [0xed, 0xa0, 0x80], '","inputs":[]}', [1, 2, 3, 4]), 16, 'm', ''),
      'Invalid encoding in string. at 7');
    throwsInvalid(() => decodeIndexBody(body('{"x":"', [0xfe], '"}')), 'Invalid encoding in string. at 6');
  });

  it('a real U+FFFD is kept', () => {
    const d = decodeJsonInferRequest(body(bytesInput('["\ufffd", "a\u00e9"]')), undefined, 'm', '');
    assert.deepEqual(splitBytes(d.request.inputs[0]!.data, 'T').map((e) => Buffer.from(e).toString()), ['\ufffd', 'aé']);
    const raw = decodeJsonInferRequest(body('{"id":"�","inputs":[]}'), undefined, 'm', '');
    assert.equal(raw.request.id, '\ufffd');
  });

  it('a lone surrogate escape in a BYTES element has no UTF-8 form: refused', () => {
    for (const bad of ['"\\ud800"', '"a\\udfffb"', '"\\ude00\\ud83d"']) {
      throwsInvalid(() => decodeJsonInferRequest(body(bytesInput(`["ok", ${bad}]`)), undefined, 'm', ''),
        "element 1 of BYTES input 'T' holds an unpaired UTF-16 surrogate");
    }
    // A proper pair is one character.
    const ok = decodeJsonInferRequest(body(bytesInput('["\\ud83e\\udd85", ""]')), undefined, 'm', '');
    assert.deepEqual(splitBytes(ok.request.inputs[0]!.data, 'T').map((e) => Buffer.from(e).toString()), ['🦅', '']);
  });
});

describe('sequence parameters (any model, as Triton reads them)', () => {
  const decode = (params: string) => decodeJsonInferRequest(bytes(`{"parameters":${params},"inputs":[]}`), undefined, 'm', '');

  it('takes a uint64 id (up to 2^64 - 1, exact) or a string, and bool flags', () => {
    assert.equal(decode('{"sequence_id": 18446744073709551615}').request.parameters.sequence_id, 18446744073709551615n);
    assert.equal(decode('{"sequence_id": 7, "sequence_start": true, "sequence_end": false}').request.parameters.sequence_id, 7);
    assert.equal(decode('{"sequence_id": "s-1"}').request.parameters.sequence_id, 's-1');
  });

  it('refuses a negative, fractional or too large id rather than wrapping it into another id', () => {
    for (const id of ['-5', '-1', '1.5', '18446744073709551616', '1e30', 'true']) {
      throwsInvalid(() => decode(`{"sequence_id": ${id}}`), "Unable to parse 'sequence_id', expecting uint64 or string");
    }
  });

  it('refuses flags that are not bools', () => {
    throwsInvalid(() => decode('{"sequence_id": 5, "sequence_start": 1}'), "parameter 'sequence_start' of the request must be a bool");
    throwsInvalid(() => decode('{"sequence_end": "true"}'), "parameter 'sequence_end' of the request must be a bool");
  });
});

describe('rawBodyInput (Inference-Header-Content-Length: 0)', () => {
  const meta = (datatype: 'FP32' | 'BYTES', shape: number[]) => [{ name: 'I', datatype, shape }] as const;

  it('batch 1 of the config dims; the one variable dim takes what the data holds', () => {
    const raw = encodeValues('FP32', [1, 2, 3, 4, 5, 6], 'I');
    // Batching models: [1, ...dims] (never a batch of 2 from a longer body).
    assert.deepEqual(rawBodyInput(raw, meta('FP32', [-1, 3]), true, 'm').shape, [1, 3]);
    assert.deepEqual(rawBodyInput(raw, meta('FP32', [-1, -1]), true, 'm').shape, [1, 6]);
    assert.deepEqual(rawBodyInput(raw, meta('FP32', [-1, 2, -1]), true, 'm').shape, [1, 2, 3]);
    // Non-batching models: the dims alone.
    assert.deepEqual(rawBodyInput(raw, meta('FP32', [6]), false, 'm').shape, [6]);
    assert.deepEqual(rawBodyInput(raw, meta('FP32', [-1, 3]), false, 'm').shape, [2, 3]);
    throwsInvalid(() => rawBodyInput(raw, meta('FP32', [-1, -1, -1]), true, 'm'),
      "The shape of the raw input 'I' can not be deduced because there are more than one variable-sized dimension");
    // A body that does not fill the shape: prepare's size check reports it.
    const rows = rawBodyInput(raw, meta('FP32', [-1, 3]), true, 'm');
    throwsInvalid(() => checkRawSize(rows.datatype, rows.shape, rows.data, rows.name), 'unexpected total byte size 24 for input \'I\', expecting 12');
    const uneven = rawBodyInput(raw, meta('FP32', [-1, 4]), false, 'm');
    assert.deepEqual(uneven.shape, [1, 4]);
    throwsInvalid(() => checkRawSize(uneven.datatype, uneven.shape, uneven.data, uneven.name), 'unexpected total byte size 24');
  });

  it('BYTES: the body is the one element, its length put in front', () => {
    const t = rawBodyInput(bytes('a\u00e9b'), meta('BYTES', [-1, 1]), true, 'm');
    assert.deepEqual(t.shape, [1, 1]);
    assert.deepEqual([...t.data], [4, 0, 0, 0, 0x61, 0xc3, 0xa9, 0x62]);
    assert.deepEqual([...rawBodyInput(new Uint8Array(0), meta('BYTES', [1]), false, 'm').data], [0, 0, 0, 0]);
    for (const shape of [[-1, -1], [-1, 2], [3]]) {
      throwsInvalid(() => rawBodyInput(bytes('x'), meta('BYTES', shape), shape[0] === -1, 'm'), "For BYTE datatype raw input 'I', the model must have input shape [1]");
    }
  });

  it('needs a model with exactly one input', () => {
    throwsInvalid(() => rawBodyInput(bytes('x'), [...meta('FP32', [1]), ...meta('FP32', [1])], false, 'simple'),
      "Raw request must only have 1 input (found 1) to be deduced but got 2 inputs in 'simple' model configuration");
  });
});

describe('tensorDataJson / paramsJson', () => {
  it('writes every JSON datatype', () => {
    assert.equal(tensorDataJson('BOOL', new Uint8Array([1, 0])), '[true,false]');
    assert.equal(tensorDataJson('INT8', new Uint8Array([255, 1])), '[-1,1]');
    assert.equal(tensorDataJson('UINT64', encodeValues('UINT64', [18446744073709551615n], 'x')), '[18446744073709551615]');
    assert.equal(tensorDataJson('INT64', encodeValues('INT64', [-9223372036854775808n, 5n], 'x')), '[-9223372036854775808,5]');
    assert.equal(tensorDataJson('FP32', encodeValues('FP32', [0.5, NaN], 'x')), '[0.5,NaN]');
    assert.equal(tensorDataJson('BYTES', encodeValues('BYTES', ['a"b', ''], 'x')), '["a\\"b",""]');
    assert.equal(tensorDataJson('FP16', new Uint8Array([0x00, 0x3c])), '[1]');
    assert.equal(tensorDataJson('INT32', new Uint8Array(0)), '[]');
  });

  it('writes large tensors the same way (stringify path), NaN/Infinity included', () => {
    const values = Array.from({ length: 1000 }, (_, i) => Math.fround(i / 7));
    const fin = encodeValues('FP32', values, 'x');
    assert.equal(tensorDataJson('FP32', fin), '[' + new Float32Array(fin.buffer).join(',') + ']');
    values[500] = NaN;
    values[501] = -Infinity;
    const text = tensorDataJson('FP32', encodeValues('FP32', values, 'x'));
    assert.ok(text.includes(',NaN,-Infinity,'));
    assert.ok(!text.includes('null'));
    const ints = Array.from({ length: 1000 }, (_, i) => i - 500);
    assert.equal(tensorDataJson('INT16', encodeValues('INT16', ints, 'x')), JSON.stringify(ints));
  });

  it('handles views that are not aligned for the type', () => {
    const buf = new Uint8Array(9);
    buf.set(encodeValues('FP64', [Math.E], 'x'), 1);
    assert.equal(tensorDataJson('FP64', buf.subarray(1)), `[${Math.E}]`);
  });

  it('writes bigint parameters exactly', () => {
    assert.equal(paramsJson({ a: 1n << 63n, b: 'x', c: true, d: 1.5 }), '{"a":9223372036854775808,"b":"x","c":true,"d":1.5}');
  });
});

describe('encodeInferResponse', () => {
  const response = {
    modelName: 'm', modelVersion: '3', id: 'q',
    outputs: [
      { name: 'A', datatype: 'INT32' as const, shape: [2], data: encodeValues('INT32', [1, 2], 'A') },
      { name: 'B', datatype: 'UINT8' as const, shape: [3], data: new Uint8Array([7, 8, 9]) },
    ],
  };

  it('all JSON', () => {
    const out = encodeInferResponse(response, undefined, false);
    assert.equal(out.jsonLength, undefined);
    assert.deepEqual(JSON.parse(out.body as string), {
      id: 'q', model_name: 'm', model_version: '3',
      outputs: [
        { name: 'A', datatype: 'INT32', shape: [2], data: [1, 2] },
        { name: 'B', datatype: 'UINT8', shape: [3], data: [7, 8, 9] },
      ],
    });
  });

  it('binary by default, JSON where an output asks', () => {
    const out = encodeInferResponse(response, [{ name: 'A', parameters: { binary_data: false } }, { name: 'B' }], true);
    const body = out.body as Buffer;
    const json = JSON.parse(body.subarray(0, out.jsonLength).toString());
    assert.deepEqual(json.outputs[1], { name: 'B', datatype: 'UINT8', shape: [3], parameters: { binary_data_size: 3 } });
    assert.deepEqual(json.outputs[0].data, [1, 2]);
    assert.deepEqual([...body.subarray(out.jsonLength!)], [7, 8, 9]);
  });

  it('outputIsBinary', () => {
    assert.equal(outputIsBinary(undefined, 'x', true), true);
    assert.equal(outputIsBinary([{ name: 'x', parameters: { binary_data: false } }], 'x', true), false);
    assert.equal(outputIsBinary([{ name: 'x', parameters: { binary_data: true } }], 'x', false), true);
    assert.equal(outputIsBinary([{ name: 'y', parameters: { binary_data: true } }], 'x', false), false);
  });
});
