/**
 * Conformance over HTTP, once per HTTP engine (http-uws.test.ts, http-node.test.ts):
 * the shared suite (suite.ts) against a real server on an ephemeral port, then what
 * only HTTP has: malformed and deeply nested JSON, the binary tensor extension's
 * sizes, the raw-body form, compression, body limits, routing errors. After every bad
 * input a good request must still succeed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import {
  buildInferBody, fromRaw, httpRequest, infer, parseInferReply, replyJson, toRaw,
} from '../helpers/http-client.js';
import type { HttpEngineChoice } from '../../src/config/cli.js';
import { BUNDLED_REPO, FIXTURE_REPO, type TestServer, startTestServer } from '../helpers/server.js';
import { type ConformanceRepo, createConformanceRepo } from '../helpers/conformance-repo.js';
import { CANARY, FP16_RAW, RAW_VALUES, TYPED_VALUES, simpleOutputs, simpleRequest } from './cases.js';
import { HttpDriver } from './drivers.js';
import { assertOutputs, conformanceSuite, runInferCase, type SuiteContext } from './suite.js';

/** Every case of the HTTP conformance suite against a server whose HTTP engine is `engine`. */
export function httpConformance(engine: Exclude<HttpEngineChoice, 'auto'>): void {
  /** Small enough to test 413 cheaply; every other request of the suite fits. */
  const MAX_BODY = 256 * 1024;

  let repo: ConformanceRepo;
  let server: TestServer;
  const ctx = {} as SuiteContext;

  before(async () => {
    repo = await createConformanceRepo();
    server = await startTestServer({
      httpEngine: engine,
      modelRepositories: [BUNDLED_REPO, FIXTURE_REPO, repo.dir],
      cache: { kind: 'local', size: 1 << 20 },
      maxRequestBytes: MAX_BODY,
    });
    ctx.driver = new HttpDriver(server.httpUrl);
  });

  after(async () => {
    ctx.driver?.close();
    await server?.shutdown();
    await repo?.remove();
  });

  it(`the server answers through ${engine}`, () => {
    assert.ok(server.logs.some((l) => l.msg === 'osprey is serving' && l.httpEngine === engine));
  });

  conformanceSuite('http', () => ctx);

  // ---------------------------------------------------------------- HTTP only

  const INFER = '/v2/models/simple/infer';

  async function post(path: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; error?: string }> {
    const r = await httpRequest(server.httpUrl, 'POST', path, { body, headers: { 'content-type': 'application/json', ...headers } });
    if (r.status === 200) return { status: 200 };
    assert.equal(r.headers['content-type'], 'application/json');
    return { status: r.status, error: replyJson(r).error };
  }

  async function canary(): Promise<void> {
    await runInferCase(ctx.driver, CANARY, 'typed');
  }

  async function expectError(path: string, body: string | Uint8Array, headers: Record<string, string>, status: number, error: string): Promise<void> {
    assert.deepEqual(await post(path, body, headers), { status, error });
    await canary();
  }

  /** The JSON header of simple's request with INPUT0 binary (`size` declared bytes) and INPUT1 as JSON. */
  function binaryHeader(size: number): Buffer {
    const { inputs } = simpleRequest(1, 20);
    return Buffer.from(JSON.stringify({
      inputs: [
        { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', parameters: { binary_data_size: size } },
        { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: inputs[1]!.values },
      ],
    }));
  }

  describe('http only: reserved parameters', () => {
    it('triton_enable_empty_final_response is rejected over HTTP (only gRPC consumes it)', async () => {
      const { inputs } = simpleRequest(1, 22);
      const body = JSON.stringify({ parameters: { triton_enable_empty_final_response: true }, inputs: inputs.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, data: t.values })) });
      await expectError(INFER, body, {}, 400, "Parameter 'triton_enable_empty_final_response' is a reserved parameter and cannot be specified.");
    });
  });

  describe('http only: malformed and deeply nested JSON', () => {
    it('truncated document', async () => {
      await expectError(INFER, '{"inputs": [', {}, 400, 'failed to parse the request JSON buffer: Invalid value. at 12');
    });

    it('missing colon', async () => {
      await expectError(INFER, '{"inputs" 1}', {}, 400, 'failed to parse the request JSON buffer: Missing a colon after a name of object member. at 10');
    });

    it('empty body', async () => {
      await expectError(INFER, '', {}, 400, 'failed to parse the request JSON buffer: The document is empty. at 0');
    });

    it('a document that is not an object', async () => {
      await expectError(INFER, '[1, 2]', {}, 400, 'the request JSON must be an object');
    });

    it('no inputs array', async () => {
      await expectError(INFER, '{"outputs": []}', {}, 400, "the request JSON has no 'inputs' array");
    });

    it('nested 100 levels deep in parameters (well-formed)', async () => {
      const deep = '{"p":'.repeat(100) + '1' + '}'.repeat(100);
      await expectError(INFER, `{"inputs": [], "parameters": ${deep}}`, {}, 400, 'failed to parse the request JSON buffer: JSON nesting is deeper than 64 levels');
    });

    it('nested 100000 levels deep (well-formed) in id', async () => {
      await expectError(INFER, `{"inputs":[],"id":${'['.repeat(100000)}${']'.repeat(100000)}}`, {}, 400,
        'failed to parse the request JSON buffer: JSON nesting is deeper than 64 levels');
    });

    it('nested 100000 levels deep and never closed', async () => {
      await expectError(INFER, `{"inputs":${'['.repeat(100000)}`, {}, 400, 'failed to parse the request JSON buffer: JSON nesting is deeper than 64 levels');
    });

    it('nested 100000 levels deep inside an input\'s data', async () => {
      const body = `{"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","data":${'['.repeat(100000)}1${']'.repeat(100000)}}]}`;
      await expectError(INFER, body, {}, 400, "unable to parse 'data' for input 'INPUT0': nested arrays do not match shape [1,16]");
    });

    it('nested data that matches the shape is accepted', async () => {
      const { inputs } = simpleRequest(2, 21);
      const nest = (v: readonly unknown[]) => [v.slice(0, 16), v.slice(16, 32)];
      const body = JSON.stringify({
        inputs: inputs.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, data: nest(t.values!) })),
      });
      const r = await httpRequest(server.httpUrl, 'POST', INFER, { body });
      assert.equal(r.status, 200);
      const o = simpleOutputs(2, 21);
      const json = replyJson(r);
      assert.deepEqual(json.outputs.map((x: any) => x.data), [o.sum.values, o.diff.values]);
    });
  });

  describe('http only: binary tensor data extension', () => {
    const raw = Buffer.from(toRaw('INT32', simpleRequest(1, 20).inputs[0]!.values!));

    it('binary section as declared', async () => {
      const h = binaryHeader(64);
      assert.deepEqual(await post(INFER, Buffer.concat([h, raw]), { 'inference-header-content-length': String(h.length) }), { status: 200 });
    });

    it('binary section shorter than declared', async () => {
      const h = binaryHeader(64);
      await expectError(INFER, Buffer.concat([h, raw.subarray(0, 60)]), { 'inference-header-content-length': String(h.length) }, 400,
        "unexpected binary data size for input 'INPUT0': binary_data_size is 64 but only 60 bytes of binary data remain");
    });

    it('binary section longer than declared', async () => {
      const h = binaryHeader(64);
      await expectError(INFER, Buffer.concat([h, raw, Buffer.alloc(4)]), { 'inference-header-content-length': String(h.length) }, 400,
        "unexpected additional input data for model 'simple': 4 bytes after the last binary input");
    });

    it('Inference-Header-Content-Length past the end of the body', async () => {
      const h = binaryHeader(64);
      const body = Buffer.concat([h, raw]);
      await expectError(INFER, body, { 'inference-header-content-length': String(body.length + 1) }, 400,
        `Inference-Header-Content-Length ${body.length + 1} exceeds the request body size ${body.length}`);
    });

    it('Inference-Header-Content-Length that is not a number', async () => {
      await expectError(INFER, '{}', { 'inference-header-content-length': 'ten' }, 400,
        "Inference-Header-Content-Length must be a non-negative integer, got 'ten'");
    });

    it('an input with neither data nor binary_data_size (Triton\'s text)', async () => {
      await expectError(INFER, JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [1, 16], datatype: 'INT32' }] }), {}, 400,
        "Input must set only one of the following fields: 'data', 'binary_data_size' in 'parameters', 'shared_memory_region' in 'parameters'. But no field is set");
    });

    it('FP16 in JSON is refused: binary only', async () => {
      await expectError('/v2/models/identity_all/infer',
        JSON.stringify({ inputs: [{ name: 'IN_FP16', shape: [1], datatype: 'FP16', data: [1] }] }), {}, 400,
        "datatype FP16 of input 'IN_FP16' is not supported in JSON; send it as binary data");
    });

    it('identity_all with JSON data for every type but FP16 (binary): JSON outputs, FP16 binary', async () => {
      const types = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP32', 'FP64', 'STRING'] as const;
      const inputs = types.map((t) => {
        const dt = t === 'STRING' ? 'BYTES' : t;
        const values = TYPED_VALUES[dt]!;
        return { name: `IN_${t}`, datatype: dt, shape: [values.length], data: values };
      });
      const { reply, result } = await infer(server.httpUrl, 'identity_all', {
        inputs: [...inputs, { name: 'IN_FP16', datatype: 'FP16', shape: [FP16_RAW.length / 2], raw: FP16_RAW }],
        outputs: [...types.map((t) => ({ name: `OUT_${t}` })), { name: 'OUT_FP16', parameters: { binary_data: true } }],
      });
      assert.equal(reply.status, 200, reply.body.toString());
      assert.deepEqual([...result!.binary.keys()], ['OUT_FP16']);
      assert.ok(Buffer.from(result!.binary.get('OUT_FP16')!).equals(Buffer.from(FP16_RAW)));
      const outs = result!.json.outputs;
      types.forEach((t, i) => {
        const dt = t === 'STRING' ? 'BYTES' : t;
        assert.equal(outs[i].name, `OUT_${t}`);
        assert.equal(outs[i].datatype, dt);
        // Compare as raw bytes: JSON spells FP32 values as doubles (0.1 -> 0.10000000149011612).
        assert.ok(Buffer.from(toRaw(dt, outs[i].data)).equals(Buffer.from(toRaw(dt, TYPED_VALUES[dt]!))), `OUT_${t}`);
      });
      // INT64/UINT64 beyond 2^53 stay exact in the JSON text itself.
      assert.match(reply.body.toString(), /-9223372036854775808,-9007199254740993,0,9223372036854775807/);
      assert.match(reply.body.toString(), /18446744073709551615/);
    });

    it('Inference-Header-Content-Length: 0, the body is the one input (batch 1), outputs binary', async () => {
      const features = Array.from({ length: 64 }, (_, j) => Math.cos(j) / 2);
      const json = await infer(server.httpUrl, 'tabular', {
        inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 64], data: features }],
        outputs: [{ name: 'score', parameters: { binary_data: true } }],
      });
      const r = await httpRequest(server.httpUrl, 'POST', '/v2/models/tabular/infer', {
        body: toRaw('FP32', features), headers: { 'inference-header-content-length': '0', 'content-type': 'application/octet-stream' },
      });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/octet-stream');
      const parsed = parseInferReply(r);
      assert.deepEqual(parsed.json.outputs[0].shape, [1, 1]);
      assert.ok(Buffer.from(parsed.binary.get('score')!).equals(Buffer.from(json.result!.binary.get('score')!)));
    });

    it('Inference-Header-Content-Length: 0 is batch 1 as Triton makes it: two rows are a size mismatch; a BYTES body is the one element', async () => {
      const two = await httpRequest(server.httpUrl, 'POST', '/v2/models/tabular/infer', {
        body: new Uint8Array(2 * 64 * 4), headers: { 'inference-header-content-length': '0' },
      });
      assert.equal(two.status, 400);
      assert.deepEqual(replyJson(two), { error: "unexpected total byte size 512 for input 'features', expecting 256" });
      const text = 'raw, not length-prefixed: h\u00e9llo';
      const r = await httpRequest(server.httpUrl, 'POST', '/v2/models/string_identity/infer', {
        body: Buffer.from(text), headers: { 'inference-header-content-length': '0' },
      });
      assert.equal(r.status, 200, r.body.toString());
      const parsed = parseInferReply(r);
      assert.deepEqual(parsed.json.outputs[0].shape, [1, 1]);
      assert.deepEqual(fromRaw('BYTES', parsed.binary.get('OUTPUT0')!), [text]);
    });

    it('FP32 NaN, infinities and -0 survive as binary', async () => {
      const values = RAW_VALUES.FP32!;
      const { result } = await infer(server.httpUrl, 'typed_FP32', {
        inputs: [{ name: 'IN_FP32', datatype: 'FP32', shape: [values.length], raw: toRaw('FP32', values) }],
        parameters: { binary_data_output: true },
      });
      assert.ok(Buffer.from(result!.binary.get('OUT_FP32')!).equals(Buffer.from(toRaw('FP32', values))));
    });
  });

  describe('http only: compression, limits and routing', () => {
    it('gzip and deflate request bodies; gzip answer when accepted', async () => {
      const spec = simpleRequest(8, 22);
      const o = simpleOutputs(8, 22);
      const body = {
        inputs: spec.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.values })),
      };
      for (const coding of ['gzip', 'deflate'] as const) {
        const { reply, result } = await infer(server.httpUrl, 'simple', body, { contentEncoding: coding, headers: { 'accept-encoding': 'gzip' } });
        assert.equal(reply.status, 200);
        assert.equal(reply.headers['content-encoding'], 'gzip', 'a >1 KiB answer is compressed when asked');
        assert.deepEqual(result!.json.outputs.map((x: any) => x.data), [o.sum.values, o.diff.values]);
      }
    });

    it('corrupt gzip / deflate body, unsupported encoding', async () => {
      await expectError(INFER, Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' }, 400,
        'failed to decompress the gzip request body: incorrect header check');
      await expectError(INFER, Buffer.from('nope'), { 'content-encoding': 'deflate' }, 400,
        'failed to decompress the deflate request body: invalid block type');
      await expectError(INFER, zlib.gzipSync('{}'), { 'content-encoding': 'br' }, 501,
        "unsupported Content-Encoding 'br'; use gzip or deflate");
      await expectError(INFER, zlib.gzipSync(Buffer.from('{"inputs": [')), { 'content-encoding': 'gzip' }, 400,
        'failed to parse the request JSON buffer: Invalid value. at 12');
    });

    it('a small gzip body that inflates past the limit: 413', async () => {
      await expectError(INFER, zlib.gzipSync(Buffer.alloc(MAX_BODY + 1, 0x20)), { 'content-encoding': 'gzip' }, 413,
        `request body exceeds the limit of ${MAX_BODY} bytes`);
    });

    it('oversized body: 413, then the server still serves', async () => {
      const big = Buffer.alloc(MAX_BODY + 1, 0x20);
      await expectError(INFER, big, {}, 413, `request body exceeds the limit of ${MAX_BODY} bytes`);
    });

    it('oversized body without a Content-Length (chunked): 413', async () => {
      const r = await httpRequest(server.httpUrl, 'POST', INFER, { body: Buffer.alloc(MAX_BODY + 1024, 0x20), chunked: true });
      assert.equal(r.status, 413);
      assert.deepEqual(replyJson(r), { error: `request body exceeds the limit of ${MAX_BODY} bytes` });
      await canary();
    });

    it('a body exactly at the limit is read (and then judged on its JSON)', async () => {
      const { body } = buildInferBody({ inputs: [] });
      const padded = Buffer.concat([body, Buffer.alloc(MAX_BODY - body.length, 0x20)]);
      assert.deepEqual(await post(INFER, padded), {
        status: 400,
        error: "expected 2 inputs but got 0 inputs for model 'simple'. Got input(s) [], but missing required input(s) ['INPUT0','INPUT1']. Please provide all required input(s).",
      });
    });

    it('unknown path: 404; wrong method: 405', async () => {
      let r = await httpRequest(server.httpUrl, 'GET', '/v2/nothing');
      assert.deepEqual([r.status, replyJson(r)], [404, { error: "unknown path '/v2/nothing'" }]);
      r = await httpRequest(server.httpUrl, 'GET', INFER);
      assert.deepEqual([r.status, replyJson(r)], [405, { error: "method GET is not allowed for '/v2/models/simple/infer'; use POST" }]);
      r = await httpRequest(server.httpUrl, 'POST', '/v2/health/live');
      assert.deepEqual([r.status, replyJson(r)], [405, { error: "method POST is not allowed for '/v2/health/live'; use GET" }]);
      await canary();
    });

    it('shared-memory status answers with client shared memory off (the default); logging works', async () => {
      let r = await httpRequest(server.httpUrl, 'GET', '/v2/systemsharedmemory/status');
      assert.deepEqual([r.status, replyJson(r)], [200, []]);
      r = await httpRequest(server.httpUrl, 'GET', '/v2/cudasharedmemory/status');
      assert.deepEqual([r.status, replyJson(r)], [200, []]);
      r = await httpRequest(server.httpUrl, 'GET', '/v2/logging');
      assert.equal(r.status, 200);
      assert.equal(typeof replyJson(r).log_verbose_level, 'number');
    });

    it('binary outputs: binary_data_size on each, bytes in output order', async () => {
      const { reply, result } = await infer(server.httpUrl, 'simple', {
        inputs: simpleRequest(1, 23).inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.values })),
        outputs: [{ name: 'OUTPUT1', parameters: { binary_data: true } }, { name: 'OUTPUT0' }],
      });
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['content-type'], 'application/octet-stream');
      const json = result!.json;
      assert.deepEqual(json.outputs[0].parameters, { binary_data_size: 64 });
      assert.equal(json.outputs[1].parameters, undefined);
      const o = simpleOutputs(1, 23);
      assertOutputs({
        modelName: 'simple', modelVersion: '1', id: '',
        outputs: [
          { name: 'OUTPUT1', datatype: 'INT32', shape: [1, 16], raw: result!.binary.get('OUTPUT1')! },
          { name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16], raw: toRaw('INT32', json.outputs[1].data) },
        ],
      }, [o.diff, o.sum]);
    });
  });

  describe('http: request accounting', () => {
    it('every request of the suite, answered or failed, was counted out again (the hot hand-off gate)', () => {
      assert.equal(server.executor.activeRequests, 0);
    });
  });
}
