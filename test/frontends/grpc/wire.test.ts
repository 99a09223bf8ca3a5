/**
 * The hand-written ModelInfer wire codec (src/codec/grpc-wire-decode.ts and
 * grpc-wire-encode.ts) must agree with
 * protobufjs (through proto-loader, from proto/grpc_service.proto) on every message
 * it handles: decode what protobufjs encodes, and encode what protobufjs decodes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServiceDefinition } from '@grpc/grpc-js';
import type {
  InferParameterMsg, ModelInferRequestMsg, ModelInferResponseMsg, ModelStreamInferResponseMsg,
} from '../../../src/codec/grpc-messages.js';
import { decodeModelInferRequest, deserializeInferRequest, MalformedInferRequest } from '../../../src/codec/grpc-wire-decode.js';
import { InvalidArgument } from '../../../src/errors/errors.js';
import { encodeModelInferResponse, encodeModelStreamInferResponse } from '../../../src/codec/grpc-wire-encode.js';
import { INFERENCE_SERVICE, loadPackageDefinition } from '../../../src/frontends/grpc/proto.js';

const service = loadPackageDefinition()[INFERENCE_SERVICE] as ServiceDefinition;
const infer = service['ModelInfer']!;
const stream = service['ModelStreamInfer']!;

/** Small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  readonly r: () => number;
  constructor(seed: number) { this.r = prng(seed); }
  int(n: number): number { return Math.floor(this.r() * n); }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]!; }
  str(): string {
    return this.pick(['', 'a', 'INPUT0', 'OUTPUT__1', 'héllo wörld', '模型', 'x'.repeat(30), 'y'.repeat(200), '🚀']);
  }
  bytes(): Buffer {
    const n = this.pick([0, 1, 3, 64, 65, 300]);
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  i64(): string {
    return this.pick(['0', '1', '-1', '127', '128', '-129', '4294967296', '9007199254740993', '-9223372036854775808', '9223372036854775807']);
  }
  u64(): string {
    return this.pick(['0', '1', '300', '4294967295', '9007199254740991', '9007199254740992', '18446744073709551615']);
  }
  param(): InferParameterMsg {
    switch (this.int(5)) {
      case 0: return { bool_param: this.r() < 0.5 };
      case 1: return { int64_param: this.i64() };
      case 2: return { string_param: this.str() };
      case 3: return { double_param: this.pick([0, -0.5, 1e300, Math.PI, -Infinity]) };
      default: return { uint64_param: this.u64() };
    }
  }
  params(): Record<string, InferParameterMsg> {
    const out: Record<string, InferParameterMsg> = {};
    const n = this.int(4);
    for (let i = 0; i < n; i++) out[this.pick(['k', 'sequence_id', 'prio', 'é', '', 'long_key_'.repeat(5)]) + i] = this.param();
    return out;
  }
  shape(): string[] {
    const n = this.int(5);
    return Array.from({ length: n }, () => this.pick(['0', '1', '3', '127', '128', '16384', '-1', '9007199254740993']));
  }
  contents(): Record<string, unknown[]> {
    const n = () => this.int(5);
    const c: Record<string, unknown[]> = {};
    const fields: Array<[string, () => unknown]> = [
      ['bool_contents', () => this.r() < 0.5],
      ['int_contents', () => this.pick([0, 1, -1, 127, -128, 2147483647, -2147483648])],
      ['int64_contents', () => this.i64()],
      ['uint_contents', () => this.pick([0, 1, 255, 65535, 4294967295])],
      ['uint64_contents', () => this.u64()],
      ['fp32_contents', () => this.pick([0, 1.5, -2.25, 3.4028234663852886e38])],
      ['fp64_contents', () => this.pick([0, Math.E, -1e-300])],
      ['bytes_contents', () => this.bytes()],
    ];
    for (const [name, make] of fields) if (this.r() < 0.4) c[name] = Array.from({ length: n() }, make);
    return c;
  }
  request(): ModelInferRequestMsg {
    const nIn = this.int(4);
    const typed = this.r() < 0.3;
    return {
      model_name: this.str(), model_version: this.pick(['', '1', '42']), id: this.str(),
      parameters: this.params(),
      inputs: Array.from({ length: nIn }, () => ({
        name: this.str(), datatype: this.pick(['FP32', 'BYTES', 'INT64', '']), shape: this.shape(),
        parameters: this.params(), contents: typed ? this.contents() as never : null,
      })),
      outputs: Array.from({ length: this.int(3) }, () => ({ name: this.str(), parameters: this.params() })),
      raw_input_contents: typed ? [] : Array.from({ length: nIn }, () => this.bytes()),
    };
  }
  response(): ModelInferResponseMsg {
    const n = this.int(4);
    const res: ModelInferResponseMsg = {
      model_name: this.str(), model_version: this.pick(['', '1']), id: this.str(),
      outputs: Array.from({ length: n }, () => {
        const o: ModelInferResponseMsg['outputs'][number] = {
          name: this.str(), datatype: this.pick(['FP32', 'BYTES']),
          // Encoders accept numbers as well as strings for int64.
          shape: this.shape().map((d) => (this.r() < 0.5 && Number.isSafeInteger(Number(d)) ? Number(d) : d)),
        };
        if (this.r() < 0.5) o.parameters = this.params();
        return o;
      }),
      raw_output_contents: Array.from({ length: n }, () => this.bytes()),
    };
    if (this.r() < 0.5) res.parameters = this.params();
    return res;
  }
}

/** Normalize 64-bit values to strings and Buffers to hex, for comparison across codecs. */
function norm(v: unknown): unknown {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`;
  if (Array.isArray(v)) return v.map(norm);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = norm((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** Like norm, but every number in an int64-bearing position is a string. */
function normInt64(v: unknown, key = ''): unknown {
  const INT64_KEYS = new Set(['shape', 'int64_contents', 'uint64_contents', 'int64_param', 'uint64_param']);
  if (INT64_KEYS.has(key)) {
    return Array.isArray(v) ? v.map((x) => String(x)) : String(v);
  }
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`;
  if (Array.isArray(v)) return v.map((x) => normInt64(x));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = normInt64((v as Record<string, unknown>)[k], k);
    return out;
  }
  return v;
}

// ---- minimal protobuf writer for hand-made wire bytes ----

function varint(v: bigint): number[] {
  let x = BigInt.asUintN(64, v);
  const out: number[] = [];
  while (x > 0x7fn) { out.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
  out.push(Number(x));
  return out;
}
const tag = (field: number, wt: number) => varint(BigInt((field << 3) | wt));
const ld = (field: number, payload: number[]) => [...tag(field, 2), ...varint(BigInt(payload.length)), ...payload];
const str = (field: number, s: string) => ld(field, [...Buffer.from(s)]);

describe('grpc-wire: ModelInferRequest decoding agrees with protobufjs', () => {
  it('random messages', () => {
    const g = new Gen(1);
    for (let i = 0; i < 500; i++) {
      const msg = g.request();
      const buf = infer.requestSerialize(msg);
      const ours = decodeModelInferRequest(buf);
      const theirs = infer.requestDeserialize(buf);
      assert.deepEqual(normInt64(ours), normInt64(theirs), `message ${i}`);
    }
  });

  it('short names: the string kept from an earlier request only when the bytes are the same', () => {
    // The decoder hands back its last ASCII string of a length when the bytes match it;
    // every other string of that length (one byte apart, non-ASCII, the same buffer
    // rewritten) must still decode to its own bytes.
    const names = ['tabular', 'tabular', 'tabulaR', 'xabular', 'tabul\u00e9', 'tabular', '\u00e9tabul', 'tabular', '', 'a', 'b', 'a', 'x'.repeat(24), 'x'.repeat(23) + 'y', 'x'.repeat(25)];
    for (const name of names) {
      const buf = infer.requestSerialize({ model_name: name, inputs: [{ name: name.slice(0, 3), datatype: 'FP32' }] });
      const msg = decodeModelInferRequest(buf);
      assert.equal(msg.model_name, name);
      assert.equal(msg.inputs[0]!.name, name.slice(0, 3));
      assert.equal(msg.inputs[0]!.datatype, 'FP32');
    }
    const buf = Buffer.from(str(1, 'model-a'));
    assert.equal(decodeModelInferRequest(buf).model_name, 'model-a');
    buf[buf.length - 1] = 'b'.charCodeAt(0);
    assert.equal(decodeModelInferRequest(buf).model_name, 'model-b');
  });

  it('gives numbers for exact 64-bit values and strings beyond 2^53', () => {
    const buf = infer.requestSerialize({
      inputs: [{ name: 'a', shape: ['2', '9007199254740993'], contents: { int64_contents: ['-5', '-9223372036854775808'] } }],
    });
    const msg = decodeModelInferRequest(buf);
    assert.deepEqual(msg.inputs[0]!.shape, [2, '9007199254740993']);
    assert.deepEqual(msg.inputs[0]!.contents!.int64_contents, [-5, '-9223372036854775808']);
  });

  it('raw contents are views into the received buffer (no copy)', () => {
    const buf = infer.requestSerialize({ inputs: [{ name: 'a' }], raw_input_contents: [Buffer.alloc(1000, 7)] });
    const raw = decodeModelInferRequest(buf).raw_input_contents[0]!;
    assert.equal(raw.buffer, buf.buffer);
    assert.equal(raw.byteLength, 1000);
  });

  it('accepts unpacked repeated scalars, skips unknown fields of every wire type, last oneof member wins', () => {
    const param = [...tag(1, 0), 1, ...tag(3, 2), 1, 0x78]; // bool_param true, then string_param 'x'
    const bytes = Buffer.from([
      ...str(1, 'm'),
      ...tag(99, 0), ...varint(12345n), // unknown varint
      ...tag(98, 1), 1, 2, 3, 4, 5, 6, 7, 8, // unknown fixed64
      ...ld(97, [1, 2, 3]), // unknown length-delimited
      ...tag(96, 5), 1, 2, 3, 4, // unknown fixed32
      ...tag(95, 3), ...tag(1, 0), 5, ...tag(95, 4), // unknown group
      ...ld(4, [...str(1, 'p'), ...ld(2, param)]),
      ...ld(5, [
        ...str(1, 'in'),
        ...tag(3, 0), ...varint(2n), ...tag(3, 0), ...varint(3n), // unpacked shape
        ...ld(5, [
          ...tag(2, 0), ...varint(-7n), // unpacked int32 (10-byte varint)
          ...tag(6, 5), ...new Uint8Array(new Float32Array([1.5]).buffer), // unpacked float
          ...tag(7, 1), ...new Uint8Array(new Float64Array([-2.5]).buffer), // unpacked double
        ]),
      ]),
    ]);
    const ours = decodeModelInferRequest(bytes);
    assert.equal(ours.model_name, 'm');
    assert.deepEqual(ours.parameters, { p: { string_param: 'x', parameter_choice: 'string_param' } });
    assert.deepEqual(ours.inputs[0]!.shape, [2, 3]);
    assert.deepEqual(ours.inputs[0]!.contents!.int_contents, [-7]);
    assert.deepEqual(ours.inputs[0]!.contents!.fp32_contents, [1.5]);
    assert.deepEqual(ours.inputs[0]!.contents!.fp64_contents, [-2.5]);
    // protobufjs agrees on the case but leaves the earlier member set too; compare the rest.
    const theirs = infer.requestDeserialize(bytes) as ModelInferRequestMsg;
    assert.equal(theirs.parameters['p']!.parameter_choice, 'string_param');
    assert.deepEqual(normInt64({ ...ours, parameters: {} }), normInt64({ ...theirs, parameters: {} }));
  });

  it('a map key named __proto__ stays an own property', () => {
    const bytes = Buffer.from(ld(4, [...str(1, '__proto__'), ...ld(2, [...tag(1, 0), 1])]));
    const msg = decodeModelInferRequest(bytes);
    assert.equal(Object.getPrototypeOf(msg.parameters), Object.prototype);
    assert.deepEqual(Object.keys(msg.parameters), ['__proto__']);
  });

  it('throws on truncated or malformed input instead of reading past the end', () => {
    const good = infer.requestSerialize(new Gen(7).request());
    const full = infer.requestSerialize({
      model_name: 'model', inputs: [{ name: 'a', shape: ['300'], parameters: { k: { double_param: 1 } } }], raw_input_contents: [Buffer.alloc(10)],
    });
    for (const buf of [good, full]) {
      for (let cut = 1; cut < buf.length; cut++) {
        try {
          decodeModelInferRequest(buf.subarray(0, cut));
        } catch (err) {
          assert.match((err as Error).message, /^malformed ModelInferRequest/);
        }
      }
    }
    assert.throws(() => decodeModelInferRequest(Buffer.from([0x0a, 0x05, 0x61])), /malformed ModelInferRequest: length past the end/);
    assert.throws(() => decodeModelInferRequest(Buffer.from([0x0f])), /malformed ModelInferRequest: wire type 7/);
    assert.throws(() => decodeModelInferRequest(Buffer.from([0x08, 0x80])), /truncated varint/);
  });

  it('a string field that is not UTF-8 is refused, never decoded to U+FFFD (two ids must not become one)', () => {
    const bad = [0x69, 0x64, 0xff];
    const long = [...Buffer.from('x'.repeat(40)), 0xc3, 0x28];
    // model_name, id (short and long), a string parameter, an input name: all strings.
    for (const buf of [ld(1, bad), ld(3, bad), ld(3, long), ld(4, [...str(1, 'sequence_id'), ...ld(2, ld(3, bad))]), ld(5, ld(1, long))]) {
      assert.throws(() => decodeModelInferRequest(Buffer.from(buf)), (e: unknown) => e instanceof InvalidArgument
        && /^malformed ModelInferRequest: a string field holds bytes that are not UTF-8 \(at byte \d+\)/.test(e.message));
    }
    // UTF-8 text, a real U+FFFD among it, is kept as it is.
    for (const id of ['\u00e9t\u00e9', '\ufffd', 'x'.repeat(40) + '\ufffd\u65e5']) {
      assert.equal(decodeModelInferRequest(Buffer.from(str(3, id))).id, id);
    }
  });

  it('the server deserializer never throws: bad bytes become a MalformedInferRequest carrying the InvalidArgument', () => {
    const good = infer.requestSerialize(new Gen(11).request());
    assert.deepEqual(deserializeInferRequest(good), decodeModelInferRequest(good));
    for (let cut = 1; cut < good.length; cut++) {
      let thrown: unknown;
      try { decodeModelInferRequest(good.subarray(0, cut)); } catch (err) { thrown = err; }
      const msg = deserializeInferRequest(good.subarray(0, cut));
      if (thrown === undefined) {
        assert.ok(!(msg instanceof MalformedInferRequest));
      } else {
        assert.ok(msg instanceof MalformedInferRequest);
        assert.ok(msg.error instanceof InvalidArgument);
        assert.equal((msg.error as Error).message, (thrown as Error).message);
      }
    }
  });
});

describe('grpc-wire: ModelInferResponse encoding agrees with protobufjs', () => {
  it('random messages decode (by protobufjs) to what protobufjs encodes', () => {
    const g = new Gen(2);
    for (let i = 0; i < 500; i++) {
      const msg = g.response();
      const ours = infer.responseDeserialize(encodeModelInferResponse(msg));
      const theirs = infer.responseDeserialize(infer.responseSerialize(msg));
      assert.deepEqual(norm(ours), norm(theirs), `message ${i}`);
    }
  });

  it('ModelStreamInferResponse: success, error, and error with identifying fields', () => {
    const g = new Gen(3);
    const cases: ModelStreamInferResponseMsg[] = [
      { error_message: '', infer_response: g.response() },
      { error_message: "Request for unknown model: 'x' is not found", infer_response: null },
      {
        error_message: 'é failed',
        infer_response: { model_name: 'x', model_version: '2', id: 'r1', outputs: [], raw_output_contents: [] },
      },
    ];
    for (let i = 0; i < 200; i++) cases.push({ error_message: g.str(), infer_response: g.r() < 0.8 ? g.response() : null });
    for (const msg of cases) {
      const ours = stream.responseDeserialize(encodeModelStreamInferResponse(msg));
      const theirs = stream.responseDeserialize(stream.responseSerialize(msg));
      assert.deepEqual(norm(ours), norm(theirs));
    }
  });

  it('keeps empty raw_output_contents entries so positions line up', () => {
    const buf = encodeModelInferResponse({
      model_name: 'm', model_version: '1', id: '',
      outputs: [{ name: 'a', datatype: 'FP32', shape: [0] }, { name: 'b', datatype: 'FP32', shape: [1] }],
      raw_output_contents: [Buffer.alloc(0), Buffer.from([0, 0, 128, 63])],
    });
    const res = infer.responseDeserialize(buf) as ModelInferResponseMsg;
    assert.equal(res.raw_output_contents.length, 2);
    assert.equal(res.raw_output_contents[0]!.length, 0);
    assert.deepEqual([...res.raw_output_contents[1]!], [0, 0, 128, 63]);
  });

  it('honours parameter_choice when several members are present', () => {
    const buf = encodeModelInferResponse({
      model_name: '', model_version: '', id: '', outputs: [], raw_output_contents: [],
      parameters: { p: { bool_param: false, int64_param: '7', parameter_choice: 'int64_param' } },
    });
    const res = infer.responseDeserialize(buf) as ModelInferResponseMsg;
    assert.deepEqual(res.parameters, { p: { int64_param: '7', parameter_choice: 'int64_param' } });
  });

  it('writes large tensors once, exactly sized', () => {
    const big = Buffer.alloc(8 * 1024 * 1024, 9);
    const buf = encodeModelInferResponse({
      model_name: 'm', model_version: '1', id: '', outputs: [{ name: 'o', datatype: 'UINT8', shape: [big.length] }], raw_output_contents: [big],
    });
    const res = infer.responseDeserialize(buf) as ModelInferResponseMsg;
    assert.ok(big.equals(res.raw_output_contents[0]!));
  });
});
