/**
 * POST /v2/models/{m}/infer round trips over real HTTP: JSON and binary tensors of
 * every datatype, nested data, per-output binary choice, parameters, the raw-body
 * form (Inference-Header-Content-Length: 0) and compressed bodies.
 */
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startHttpServer, type HttpServer } from '../../../src/frontends/http/server.js';
import type { DataType } from '../../../src/types/tensor.js';
import {
  fromRaw, httpRequest, infer, inferPath, parseInferReply, replyJson, toRaw, type InferInputSpec,
} from '../../helpers/http-client.js';
import { FakeDataPlane } from './fake-dataplane.js';
import { Cancellation } from '../../../src/types/cancel.js';

let dp: FakeDataPlane;
let server: HttpServer;
let base: string;

before(async () => {
  dp = new FakeDataPlane();
  server = await startHttpServer(dp, { host: '127.0.0.1', port: 0, maxBodyBytes: 1 << 20 });
  base = `http://127.0.0.1:${server.port}`;
});
after(() => server.close());

/** JSON-representable values per datatype, including the extremes. */
const JSON_VALUES: Array<[DataType, unknown[]]> = [
  ['BOOL', [true, false, true, true]],
  ['UINT8', [0, 1, 128, 255]],
  ['UINT16', [0, 1, 300, 65535]],
  ['UINT32', [0, 1, 70000, 4294967295]],
  ['UINT64', [0n, 1n, 9007199254740993n, 18446744073709551615n]],
  ['INT8', [-128, -1, 0, 127]],
  ['INT16', [-32768, -1, 0, 32767]],
  ['INT32', [-2147483648, -1, 0, 2147483647]],
  ['INT64', [-9223372036854775808n, -9007199254740993n, 42n, 9223372036854775807n]],
  ['FP32', [0, -1.5, 3.4028234663852886e38, 1.401298464324817e-45]],
  ['FP64', [0, -1.5, 1.7976931348623157e308, 5e-324]],
  ['BYTES', ['', 'hello', 'ünïcödé ✓', 'a"quote\\back\nnl']],
];

/** What a value reads back as from exact JSON: small 64-bit integers become numbers. */
function normalize(dt: DataType, v: unknown): unknown {
  if ((dt === 'INT64' || dt === 'UINT64') && typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return v;
}

describe('JSON tensors', () => {
  for (const [dt, values] of JSON_VALUES) {
    it(`${dt} round-trips through JSON data exactly`, async () => {
      const { reply, result } = await infer(base, 'echo', {
        inputs: [{ name: 'X', datatype: dt, shape: [2, 2], data: values }],
      });
      assert.equal(reply.status, 200, reply.body.toString());
      assert.equal(reply.headers['content-type'], 'application/json');
      const out = result!.json.outputs[0];
      assert.deepEqual(out, { name: 'X', datatype: dt, shape: [2, 2], data: values.map((v) => normalize(dt, v)) });
      // And what the data plane received is the raw layout of those values.
      assert.deepEqual(dp.requests.at(-1)!.inputs[0]!.data, toRaw(dt, values));
    });
  }

  it('flattens nested row-major data', async () => {
    const { result } = await infer(base, 'echo', {
      inputs: [{ name: 'X', datatype: 'INT32', shape: [2, 3], data: [[1, 2, 3], [4, 5, 6]] }],
    });
    assert.deepEqual(result!.json.outputs[0].data, [1, 2, 3, 4, 5, 6]);
    const { result: r3 } = await infer(base, 'echo', {
      inputs: [{ name: 'X', datatype: 'BYTES', shape: [1, 2, 1], data: [[['a'], ['b']]] }],
    });
    assert.deepEqual(r3!.json.outputs[0].data, ['a', 'b']);
  });

  it('accepts scalars (shape []) and empty tensors', async () => {
    const { result } = await infer(base, 'echo', {
      inputs: [
        { name: 'S', datatype: 'FP64', shape: [], data: [2.5] },
        { name: 'E', datatype: 'FP32', shape: [0, 3], data: [] },
      ],
    });
    assert.deepEqual(result!.json.outputs, [
      { name: 'S', datatype: 'FP64', shape: [], data: [2.5] },
      { name: 'E', datatype: 'FP32', shape: [0, 3], data: [] },
    ]);
  });

  it('writes non-finite floats as NaN / Infinity tokens', async () => {
    const { reply } = await infer(base, 'nan', { inputs: [{ name: 'X', datatype: 'FP32', shape: [1], data: [0] }] });
    assert.match(reply.body.toString(), /"data":\[NaN,Infinity,-Infinity,1\.5\]/);
  });
});

/** Raw bytes per datatype, FP16/BF16 included (they travel only binary). */
function rawFor(dt: DataType): { shape: number[]; raw: Uint8Array } {
  switch (dt) {
    case 'FP16': return { shape: [3], raw: new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x7e00]).buffer) };
    case 'BF16': return { shape: [3], raw: new Uint8Array(new Uint16Array([0x3f80, 0xc000, 0x7fc0]).buffer) };
    default: {
      const values = JSON_VALUES.find(([d]) => d === dt)![1];
      return { shape: [values.length], raw: toRaw(dt, values) };
    }
  }
}

const ALL: DataType[] = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES', 'BF16'];

describe('binary tensors', () => {
  it('every datatype round-trips byte-identically in one request', async () => {
    const inputs: InferInputSpec[] = ALL.map((dt) => ({ name: `in_${dt}`, datatype: dt, ...rawFor(dt) }));
    const { reply, result } = await infer(base, 'echo', { inputs, parameters: { binary_data_output: true } });
    assert.equal(reply.status, 200, reply.body.toString());
    assert.equal(reply.headers['content-type'], 'application/octet-stream');
    assert.equal(result!.json.outputs.length, ALL.length);
    for (const i of inputs) {
      const out = result!.json.outputs.find((o: { name: string }) => o.name === i.name);
      assert.deepEqual(out.shape, i.shape);
      assert.equal(out.datatype, i.datatype);
      assert.equal(out.parameters.binary_data_size, i.raw!.byteLength);
      assert.deepEqual(new Uint8Array(result!.binary.get(i.name)!), i.raw);
    }
    // binary_data_output is consumed by the front end, not passed to the model.
    assert.deepEqual(dp.requests.at(-1)!.parameters, {});
  });

  it('binary inputs with JSON outputs decode to the same values', async () => {
    const inputs: InferInputSpec[] = ALL.filter((d) => d !== 'FP16' && d !== 'BF16')
      .map((dt) => ({ name: dt, datatype: dt, ...rawFor(dt) }));
    const { result } = await infer(base, 'echo', { inputs });
    for (const [dt, values] of JSON_VALUES) {
      const out = result!.json.outputs.find((o: { name: string }) => o.name === dt);
      assert.deepEqual(out.data, values.map((v) => normalize(dt, v)), dt);
    }
  });

  it('mixes JSON and binary inputs and chooses binary per output', async () => {
    const a = toRaw('FP32', [1, 2]);
    const c = toRaw('INT64', [1n << 60n]);
    const { result } = await infer(base, 'echo', {
      id: 'req-7',
      parameters: { binary_data_output: true },
      inputs: [
        { name: 'A', datatype: 'FP32', shape: [2], raw: a },
        { name: 'B', datatype: 'INT32', shape: [1], data: [5] },
        { name: 'C', datatype: 'INT64', shape: [1], raw: c },
      ],
      outputs: [
        { name: 'C' },
        { name: 'B', parameters: { binary_data: false } },
        { name: 'A', parameters: { binary_data: true } },
      ],
    });
    const json = result!.json;
    assert.equal(json.id, 'req-7');
    assert.equal(json.model_name, 'echo');
    assert.equal(json.model_version, '1');
    assert.deepEqual(json.outputs.map((o: { name: string }) => o.name), ['C', 'B', 'A']);
    assert.deepEqual(json.outputs[1], { name: 'B', datatype: 'INT32', shape: [1], data: [5] });
    assert.deepEqual(new Uint8Array(result!.binary.get('C')!), c);
    assert.deepEqual(new Uint8Array(result!.binary.get('A')!), a);
    // Output order in the binary section follows the outputs array.
    assert.deepEqual([...result!.binary.keys()], ['C', 'A']);
  });

  it('reads binary outputs at exact offsets when a tensor is misaligned', async () => {
    const { result } = await infer(base, 'echo', {
      inputs: [
        { name: 'U8', datatype: 'UINT8', shape: [3], raw: new Uint8Array([1, 2, 3]) },
        { name: 'F64', datatype: 'FP64', shape: [2], raw: toRaw('FP64', [Math.PI, -2.25]) },
      ],
    });
    // F64 starts 3 bytes into the binary section: the JSON writer must not assume alignment.
    assert.deepEqual(result!.json.outputs[1].data, [Math.PI, -2.25]);
  });
});

describe('request fields', () => {
  it('echoes a non-empty id and omits an empty one', async () => {
    const x = { name: 'X', datatype: 'INT8', shape: [1], data: [1] };
    const { result: empty } = await infer(base, 'echo', { id: '', inputs: [x] });
    assert.equal('id' in empty!.json, false);
    const { result: none } = await infer(base, 'echo', { inputs: [x] });
    assert.equal('id' in none!.json, false);
  });

  it('passes parameters through, integers beyond 2^53 exactly', async () => {
    const { result } = await infer(base, 'echo', {
      parameters: { sequence_id: 18446744073709551615n, sequence_start: true, priority: 1, timeout: 5000, tag: 'x' },
      inputs: [{ name: 'X', datatype: 'FP32', shape: [1], data: [1] }],
    });
    const params = dp.requests.at(-1)!.parameters;
    assert.deepEqual(params, { sequence_id: 18446744073709551615n, sequence_start: true, priority: 1, timeout: 5000, tag: 'x' });
    assert.equal(result!.json.parameters.sequence_id, 18446744073709551615n);
  });

  it('passes output parameters (classification) and sets deadline/signal', async () => {
    await infer(base, 'echo', {
      inputs: [{ name: 'X', datatype: 'FP32', shape: [1], data: [1] }],
      outputs: [{ name: 'X', parameters: { classification: 2 } }],
    });
    const req = dp.requests.at(-1)!;
    assert.deepEqual(req.outputs, [{ name: 'X', parameters: { classification: 2 } }]);
    assert.equal(req.deadline, Infinity);
    assert.ok(req.signal instanceof Cancellation);
    assert.equal(req.modelVersion, '');
  });

  it('routes /versions/{v}/infer and URL-decoded model names', async () => {
    const x = { name: 'X', datatype: 'INT32', shape: [1], data: [3] };
    const { result } = await infer(base, 'echo', { inputs: [x] }, { version: '1' });
    assert.equal(dp.requests.at(-1)!.modelVersion, '1');
    assert.equal(result!.json.model_version, '1');
    const { reply } = await infer(base, 'odd name:v@1 +x', { inputs: [x] });
    assert.equal(reply.status, 200);
    assert.equal(dp.requests.at(-1)!.modelName, 'odd name:v@1 +x');
  });
});

describe('Inference-Header-Content-Length: 0', () => {
  it('takes the whole body as the only input, batch 1, outputs binary', async () => {
    const raw = toRaw('FP32', [1, 2, 3, 4]);
    const reply = await httpRequest(base, 'POST', inferPath('single'), {
      body: raw, headers: { 'inference-header-content-length': '0', 'content-type': 'application/octet-stream' },
    });
    assert.equal(reply.status, 200, reply.body.toString());
    const req = dp.requests.at(-1)!;
    assert.deepEqual(req.inputs.map((t) => [t.name, t.datatype, t.shape]), [['INPUT0', 'FP32', [1, 4]]]);
    assert.equal(req.outputs, undefined);
    const { json, binary } = parseInferReply(reply);
    assert.equal(json.outputs[0].parameters.binary_data_size, 16);
    assert.deepEqual(new Uint8Array(binary.get('INPUT0')!), raw);
  });

  it('BYTES: the body is the one element itself (no length prefix), as Triton takes it', async () => {
    const text = Buffer.from('héllo, "raw" body');
    const reply = await httpRequest(base, 'POST', inferPath('one_bytes'), {
      body: text, headers: { 'inference-header-content-length': '0' },
    });
    assert.equal(reply.status, 200, reply.body.toString());
    assert.deepEqual(dp.requests.at(-1)!.inputs[0]!.shape, [1, 1]);
    assert.deepEqual(fromRaw('BYTES', parseInferReply(reply).binary.get('TEXT')!), ['héllo, "raw" body']);
  });

  it('BYTES: an input that is not a single element cannot take a raw body', async () => {
    const reply = await httpRequest(base, 'POST', inferPath('single_bytes'), {
      body: toRaw('BYTES', ['a', 'bc']), headers: { 'inference-header-content-length': '0' },
    });
    assert.equal(reply.status, 400);
    assert.equal(replyJson(reply).error, "For BYTE datatype raw input 'TEXT', the model must have input shape [1]");
  });

  it('batch 1 always: a body of two rows is a byte-size mismatch, not a batch of 2', async () => {
    const reply = await httpRequest(base, 'POST', inferPath('single'), {
      body: toRaw('FP32', [1, 2, 3, 4, 5, 6, 7, 8]), headers: { 'inference-header-content-length': '0' },
    });
    assert.equal(reply.status, 400);
    assert.equal(replyJson(reply).error, "unexpected total byte size 32 for input 'INPUT0', expecting 16");
  });

  it('rejects a body that does not fit the input', async () => {
    const reply = await httpRequest(base, 'POST', inferPath('single'), {
      body: new Uint8Array(10), headers: { 'inference-header-content-length': '0' },
    });
    assert.equal(reply.status, 400);
    assert.match(replyJson(reply).error, /unexpected total byte size 10 for input 'INPUT0'/);
  });
});

describe('content encodings', () => {
  const big = Array.from({ length: 1000 }, (_, i) => i * 0.5);

  for (const coding of ['gzip', 'deflate'] as const) {
    it(`accepts a ${coding} request and answers ${coding} when asked`, async () => {
      const { reply, result } = await infer(base, 'echo', {
        inputs: [{ name: 'X', datatype: 'FP64', shape: [1000], data: big }],
      }, { contentEncoding: coding, headers: { 'accept-encoding': coding } });
      assert.equal(reply.status, 200, reply.body.toString());
      assert.equal(reply.headers['content-encoding'], coding);
      assert.deepEqual(result!.json.outputs[0].data, big);
    });
  }

  it('compresses binary answers; the header length counts the uncompressed JSON', async () => {
    const raw = toRaw('FP32', big);
    const { reply, result } = await infer(base, 'echo', {
      inputs: [{ name: 'X', datatype: 'FP32', shape: [1000], raw }],
      parameters: { binary_data_output: true },
    }, { headers: { 'accept-encoding': 'br;q=1, gzip;q=0.5' } });
    assert.equal(reply.headers['content-encoding'], 'gzip');
    assert.ok(reply.body.byteLength < raw.byteLength);
    assert.deepEqual(new Uint8Array(result!.binary.get('X')!), raw);
  });

  it('does not compress small answers or when the client refuses', async () => {
    const small = await infer(base, 'echo', { inputs: [{ name: 'X', datatype: 'INT8', shape: [1], data: [1] }] }, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(small.reply.headers['content-encoding'], undefined);
    const refused = await infer(base, 'echo', { inputs: [{ name: 'X', datatype: 'FP64', shape: [1000], data: big }] }, { headers: { 'accept-encoding': 'gzip;q=0, identity' } });
    assert.equal(refused.reply.headers['content-encoding'], undefined);
  });

  it('rejects an undecodable or unknown request coding', async () => {
    const bad = await httpRequest(base, 'POST', inferPath('echo'), { body: 'not gzip', headers: { 'content-encoding': 'gzip' } });
    assert.equal(bad.status, 400);
    assert.match(replyJson(bad).error, /failed to decompress the gzip request body/);
    const br = await httpRequest(base, 'POST', inferPath('echo'), { body: zlib.brotliCompressSync('{}'), headers: { 'content-encoding': 'br' } });
    assert.equal(br.status, 501);
    assert.match(replyJson(br).error, /unsupported Content-Encoding 'br'/);
  });
});
