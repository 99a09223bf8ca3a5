/**
 * Bad infer requests over real HTTP: each gets its exact status and an `error` field,
 * and the server keeps serving afterwards.
 */
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { after, afterEach, before, describe, it } from 'node:test';
import { startHttpServer, type HttpServer } from '../../../src/frontends/http/server.js';
import {
  buildInferBody, httpRequest, infer, inferPath, type HttpReply, replyJson, toRaw,
} from '../../helpers/http-client.js';
import { FakeDataPlane } from './fake-dataplane.js';

const LIMIT = 64 * 1024;
let dp: FakeDataPlane;
let server: HttpServer;
let base: string;

before(async () => {
  dp = new FakeDataPlane();
  server = await startHttpServer(dp, { host: '127.0.0.1', port: 0, maxBodyBytes: LIMIT });
  base = `http://127.0.0.1:${server.port}`;
});
after(() => server.close());

// After every failure the server must still answer a good request.
afterEach(async () => {
  const { reply, result } = await infer(base, 'echo', { inputs: [{ name: 'X', datatype: 'INT32', shape: [2], data: [1, 2] }] });
  assert.equal(reply.status, 200);
  assert.deepEqual(result!.json.outputs[0].data, [1, 2]);
});

function post(body: string | Uint8Array, headers: Record<string, string> = {}, model = 'echo', version = ''): Promise<HttpReply> {
  return httpRequest(base, 'POST', inferPath(model, version), { body, headers });
}

function assertError(reply: HttpReply, status: number, text: string | RegExp): void {
  assert.equal(reply.status, status, reply.body.toString());
  assert.equal(reply.headers['content-type'], 'application/json');
  const { error } = replyJson(reply);
  assert.equal(typeof error, 'string');
  if (typeof text === 'string') assert.ok(error.includes(text), `error ${JSON.stringify(error)} should contain ${JSON.stringify(text)}`);
  else assert.match(error, text);
}

const input = (over: Record<string, unknown>): string =>
  JSON.stringify({ inputs: [{ name: 'X', datatype: 'FP32', shape: [2], data: [1, 2], ...over }] });

describe('malformed documents', () => {
  it('malformed JSON -> 400 "failed to parse the request JSON buffer: <reason> at <offset>"', async () => {
    assertError(await post('{"inputs": [}'), 400, "failed to parse the request JSON buffer: Invalid value. at 12");
    assertError(await post('{"inputs" 1}'), 400, 'failed to parse the request JSON buffer: Missing a colon after a name of object member. at 10');
    assertError(await post(''), 400, 'failed to parse the request JSON buffer: The document is empty. at 0');
    assertError(await post('{} x'), 400, 'failed to parse the request JSON buffer: The document root must not be followed by other values. at 3');
  });

  it('JSON nested too deep -> 400', async () => {
    const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);
    assertError(await post(`{"inputs":[],"x":${deep(100)}}`), 400, 'JSON nesting is deeper than 64 levels');
    assertError(await post(`{"inputs":[{"name":"X","datatype":"FP32","shape":[1],"data":${deep(5000)}}]}`), 400, /nested arrays do not match shape|deeper than 64/);
    assertError(await post(`{"inputs":[{"name":"X","datatype":"FP32","shape":[1],"data":[${deep(5000)}]}]}`), 400, /nested arrays do not match shape|deeper than 64/);
    assertError(await post(`{"inputs":[{"name":"X","datatype":"FP32","shape":[1],"parameters":{"a":${deep(70)}}}]}`), 400, 'deeper than 64');
    // Deep and malformed: our own parser reports it without recursing past the limit.
    assertError(await post('['.repeat(50000)), 400, 'JSON nesting is deeper than 64 levels');
  });

  it('not an object, or no inputs -> 400', async () => {
    assertError(await post('[]'), 400, 'the request JSON must be an object');
    assertError(await post('{}'), 400, "the request JSON has no 'inputs' array");
  });
});

describe('bad inputs', () => {
  it('wrong datatype string -> 400', async () => {
    assertError(await post(input({ datatype: 'FLOAT32' })), 400, "invalid datatype 'FLOAT32' for input 'X'");
    assertError(await post(input({ datatype: 'TYPE_FP32' })), 400, "invalid datatype 'TYPE_FP32'");
  });

  it('data that does not match the datatype -> 400', async () => {
    assertError(await post(input({ data: ['a', 'b'] })), 400, `unable to parse 'data': expected FP32 value for input 'X', got "a"`);
    assertError(await post(input({ datatype: 'INT8', data: [1, 300] })), 400, "expected INT8 value for input 'X', got 300");
    assertError(await post(input({ datatype: 'INT32', data: [1, 1.5] })), 400, "expected INT32 value for input 'X', got 1.5");
    assertError(await post(input({ datatype: 'BYTES', data: [1, 2] })), 400, "expected BYTES value for input 'X', got 1");
    assertError(await post(input({ datatype: 'UINT64', data: [1, -1] })), 400, "expected UINT64 value for input 'X', got -1");
    assertError(await post(input({ datatype: 'INT64', data: [1, 0] }).replace('[1,0]', '[1,9223372036854775808]')), 400, "expected INT64 value for input 'X'");
  });

  it('shape / element count mismatch -> 400', async () => {
    assertError(await post(input({ shape: [3] })), 400, "unable to parse 'data' for input 'X': shape [3] has 3 elements but 'data' has 2");
    assertError(await post(input({ shape: [2, 2], data: [[1, 2], [3]] })), 400, "nested arrays do not match shape [2,2]");
    assertError(await post(input({ shape: [2, 2], data: [[1, 2, 3, 4]] })), 400, "nested arrays do not match shape [2,2]");
    assertError(await post(input({ shape: [2], data: [1, [2]] })), 400, 'nested arrays do not match shape [2]');
    assertError(await post(input({ shape: [-1] })), 400, "'shape' of input 'X' must hold non-negative integers, got -1");
    assertError(await post(input({ shape: [1.5] })), 400, "'shape' of input 'X' must hold non-negative integers, got 1.5");
    assertError(await post(input({ shape: undefined })), 400, "input 'X' has no 'shape' array");
  });

  it('FP16 / BF16 in JSON -> 400 saying to use binary', async () => {
    assertError(await post(input({ datatype: 'FP16' })), 400, "datatype FP16 of input 'X' is not supported in JSON; send it as binary data");
    assertError(await post(input({ datatype: 'BF16' })), 400, 'send it as binary data');
  });

  it('no data, or both data and binary -> 400 (Triton\'s text)', async () => {
    const triton = "Input must set only one of the following fields: 'data', 'binary_data_size' in 'parameters', 'shared_memory_region' in 'parameters'. But";
    assertError(await post(input({ data: undefined })), 400, `${triton} no field is set`);
    const body = Buffer.concat([Buffer.from(input({ parameters: { binary_data_size: 8 } })), Buffer.alloc(8)]);
    assertError(await post(body, { 'inference-header-content-length': String(body.byteLength - 8) }), 400, `${triton} set 'data' 'binary_data_size'`);
    assertError(await post(input({ parameters: { shared_memory_region: 'r', shared_memory_byte_size: 8 } })), 400, `${triton} set 'data' 'shared_memory_region'`);
  });

  it('reserved parameters -> 400', async () => {
    // HTTP rejects every triton_ key, the one gRPC consumes included.
    for (const key of ['triton_x', 'triton_enable_empty_final_response']) {
      const body = JSON.stringify({ parameters: { [key]: true }, inputs: [] });
      assertError(await post(body), 400, `Parameter '${key}' is a reserved parameter and cannot be specified.`);
    }
    assertError(await post(JSON.stringify({ parameters: { a: { b: 1 } }, inputs: [] })), 400, "parameter 'a' of the request must be a bool, number or string");
    assertError(await post(JSON.stringify({ parameters: { binary_data_output: 1 }, inputs: [] })), 400, "parameter 'binary_data_output' of the request must be a bool");
  });

  it('bad output requests -> 400', async () => {
    const inputs = [{ name: 'X', datatype: 'FP32', shape: [1], data: [1] }];
    assertError(await post(JSON.stringify({ inputs, outputs: [{ parameters: {} }] })), 400, "output 0 of the request must be a JSON object with a 'name' string");
    assertError(await post(JSON.stringify({ inputs, outputs: [{ name: 'X', parameters: { binary_data: 'yes' } }] })), 400, "parameter 'binary_data' of output 'X' must be a bool");
    assertError(await post(JSON.stringify({ inputs, outputs: [{ name: 'X', parameters: { classification: -1 } }] })), 400, "parameter 'classification' of output 'X' must be a non-negative integer");
    assertError(await post(JSON.stringify({ inputs, outputs: [{ name: 'X', parameters: { shared_memory_region: 'r' } }] })), 400, "output 'X' sets 'shared_memory_region' without 'shared_memory_byte_size'");
    assertError(await post(JSON.stringify({ inputs, outputs: [{ name: 'X', parameters: { shared_memory_offset: 0 } }] })), 400, "output 'X' sets 'shared_memory_offset' without 'shared_memory_region'");
    assertError(await post(JSON.stringify({ inputs, outputs: [{ name: 'X', parameters: { shared_memory_region: 'r', shared_memory_byte_size: 4, binary_data: true } }] })), 400, "Output can't set both 'shared_memory_region' and 'binary_data'");
    assertError(await post(JSON.stringify({ inputs, outputs: [{ name: 'X', parameters: { shared_memory_region: 'r', shared_memory_byte_size: 4, classification: 1 } }] })), 400, "Output can't set both 'shared_memory_region' and 'classification'");
  });
});

describe('binary section', () => {
  const spec = (raw: Uint8Array, declared: number) => {
    const json = Buffer.from(JSON.stringify({
      inputs: [{ name: 'X', datatype: 'FP32', shape: [2], parameters: { binary_data_size: declared } }],
    }));
    return { body: Buffer.concat([json, raw]), headers: { 'inference-header-content-length': String(json.byteLength) } };
  };

  it('shorter than declared -> 400', async () => {
    const { body, headers } = spec(new Uint8Array(4), 8);
    assertError(await post(body, headers), 400, "unexpected binary data size for input 'X': binary_data_size is 8 but only 4 bytes of binary data remain");
  });

  it('longer than declared -> 400', async () => {
    const { body, headers } = spec(new Uint8Array(12), 8);
    assertError(await post(body, headers), 400, "unexpected additional input data for model 'echo': 4 bytes after the last binary input");
  });

  it('declared size that does not fit the shape -> 400', async () => {
    const { body, headers } = spec(new Uint8Array(4), 4);
    assertError(await post(body, headers), 400, "unexpected total byte size 4 for input 'X', expecting 8");
  });

  it('binary data without the header -> 400', async () => {
    const { body } = spec(new Uint8Array(8), 8);
    assertError(await post(body), 400, 'failed to parse the request JSON buffer');
  });

  it('bad Inference-Header-Content-Length -> 400', async () => {
    const { body } = spec(new Uint8Array(8), 8);
    assertError(await post(body, { 'inference-header-content-length': 'abc' }), 400, "Inference-Header-Content-Length must be a non-negative integer, got 'abc'");
    assertError(await post(body, { 'inference-header-content-length': String(body.byteLength + 1) }), 400, 'exceeds the request body size');
  });

  it('BYTES length prefix past the end -> 400', async () => {
    const raw = toRaw('BYTES', ['abc']);
    new DataView(raw.buffer).setUint32(0, 100, true);
    const { body, headerLength } = buildInferBody({ inputs: [{ name: 'S', datatype: 'BYTES', shape: [1], raw }] });
    assertError(await post(body, { 'inference-header-content-length': String(headerLength) }), 400,
      "incomplete string data for inference input 'S', expecting string of length 100 but only 3 bytes available");
  });

  it('BYTES element count mismatch -> 400', async () => {
    const { body, headerLength } = buildInferBody({ inputs: [{ name: 'S', datatype: 'BYTES', shape: [3], raw: toRaw('BYTES', ['a', 'b']) }] });
    assertError(await post(body, { 'inference-header-content-length': String(headerLength) }), 400, "expected 3 string elements for inference input 'S', got 2");
  });
});

describe('model and version', () => {
  it('unknown model -> 400 "Request for unknown model"', async () => {
    assertError(await post(input({}), {}, 'x'), 400, "Request for unknown model: 'x' is not found");
    assertError(await post(new Uint8Array(16), { 'inference-header-content-length': '0' }, 'x'), 400, "Request for unknown model: 'x' is not found");
  });

  it('non-numeric version -> 400', async () => {
    assertError(await post(input({}), {}, 'echo', 'v1'), 400, "invalid model version 'v1': a version must be a decimal number");
  });

  it('header length 0 on a model with two inputs -> 400', async () => {
    const saved = dp.modelMetadata('single', '').inputs;
    (dp.modelMetadata('single', '') as { inputs: unknown[] }).inputs = [...saved, saved[0]];
    try {
      assertError(await post(new Uint8Array(16), { 'inference-header-content-length': '0' }, 'single'), 400,
        "Raw request must only have 1 input (found 1) to be deduced but got 2 inputs in 'single' model configuration");
    } finally {
      (dp.modelMetadata('single', '') as { inputs: unknown[] }).inputs = saved;
    }
  });

  it('an unexpected data-plane error -> 500, logged once', async () => {
    const logged: unknown[] = [];
    const s = await startHttpServer(dp, { host: '127.0.0.1', port: 0, maxBodyBytes: LIMIT, logger: { error: (o) => logged.push(o) } });
    try {
      dp.failNext = new TypeError('boom');
      const r = await httpRequest(`http://127.0.0.1:${s.port}`, 'POST', inferPath('echo'), { body: input({}) });
      assertError(r, 500, 'boom');
      assert.equal(logged.length, 1);
    } finally {
      await s.close();
    }
  });
});

describe('body size limit', () => {
  it('Content-Length over the limit -> 413 without reading the body', async () => {
    const r = await post(Buffer.alloc(LIMIT + 1, 0x20));
    assertError(r, 413, `request body exceeds the limit of ${LIMIT} bytes`);
  });

  it('a chunked body that grows over the limit -> 413', async () => {
    const r = await httpRequest(base, 'POST', inferPath('echo'), { body: Buffer.alloc(LIMIT + 10, 0x20), chunked: true });
    assertError(r, 413, `request body exceeds the limit of ${LIMIT} bytes`);
  });

  it('a gzip body that inflates over the limit -> 413', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(LIMIT * 4, 0x20));
    assert.ok(bomb.byteLength < LIMIT);
    assertError(await post(bomb, { 'content-encoding': 'gzip' }), 413, `request body exceeds the limit of ${LIMIT} bytes`);
  });

  it('a body just at the limit is read', async () => {
    const doc = input({});
    const r = await post(doc + ' '.repeat(LIMIT - doc.length));
    assert.equal(r.status, 200);
  });
});
