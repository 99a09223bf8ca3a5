/**
 * Model control over both protocols: explicit-mode load/unload (config override,
 * `file:` uploads, errors with Triton's texts), `--load-model`, the index states,
 * and the refusal in 'none' and 'poll' modes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { rawInferRequest, type GrpcTestClient } from '../helpers/grpc-client.js';
import { scratchServer } from '../helpers/scratch-server.js';
import type { TestServer } from '../helpers/server.js';
import { CORRUPT_ONNX, scalerModel, writeOld, writeScaler } from '../helpers/repo-fixtures.js';

interface IndexRow { name: string; version?: string; state?: string; reason?: string }

async function post(s: TestServer, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${s.httpUrl}${path}`, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

async function inferHttp(s: TestServer, model: string, version = ''): Promise<{ status: number; version?: string; y?: number[]; error?: string }> {
  const path = version === '' ? `/v2/models/${model}/infer` : `/v2/models/${model}/versions/${version}/infer`;
  const r = await post(s, path, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });
  return r.status === 200 ? { status: 200, version: r.json.model_version, y: r.json.outputs[0].data } : { status: r.status, error: r.json.error };
}

async function inferGrpc(c: GrpcTestClient, model: string): Promise<{ version: string; y: number[] }> {
  const x = new Float32Array([1, 2, 3, 4]);
  const res = await c.infer(rawInferRequest(model, [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: new Uint8Array(x.buffer) }]));
  const raw = res.raw_output_contents[0]!;
  return { version: res.model_version, y: [...new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))] };
}

const times = (f: number) => [1, 2, 3, 4].map((x) => x * f);
const jsonConfig = (name: string, extra: Record<string, unknown> = {}) => JSON.stringify({
  name, max_batch_size: 16,
  input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [4] }],
  output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [4] }],
  ...extra,
});

describe('explicit model control', () => {
  let repo: string;
  let s: TestServer;
  let c: GrpcTestClient;

  scratchServer(async (r) => {
    await writeScaler(r, 'a', { 1: 1 });
    await writeScaler(r, 'b', { 1: 1, 2: 2 });
    await writeScaler(r, 'broken', { 1: CORRUPT_ONNX });
    await writeScaler(r, 'cfgbad', { 1: 1 }, 'max_batch_size: [ oops');
  }, { modelControlMode: 'explicit', loadModels: ['a', 'missing'], workerThreads: 2, allowMetrics: false }, (h) => ({ repo, s, c } = h));

  const index = async (): Promise<IndexRow[]> => (await post(s, '/v2/repository/index', {})).json;
  const grpcIndex = async (ready = false): Promise<IndexRow[]> =>
    (await c.unary<{ models: IndexRow[] }>('RepositoryIndex', { ready })).models;

  it('--load-model loads only what it names; the index lists every model folder, never-loaded ones by name alone', async () => {
    assert.deepEqual(await index(), [
      { name: 'a', version: '1', state: 'READY' },
      { name: 'b' },
      { name: 'broken' },
      { name: 'cfgbad' },
    ]);
    assert.deepEqual(await grpcIndex(), [
      { name: 'a', version: '1', state: 'READY', reason: '' },
      { name: 'b', version: '', state: '', reason: '' },
      { name: 'broken', version: '', state: '', reason: '' },
      { name: 'cfgbad', version: '', state: '', reason: '' },
    ]);
    assert.deepEqual(await grpcIndex(true), [{ name: 'a', version: '1', state: 'READY', reason: '' }]);
    assert.ok(s.logs.some((l) => l.msg === "failed to load 'missing', failed to poll from model repository"));
    assert.deepEqual(await inferHttp(s, 'a'), { status: 200, version: '1', y: times(1) });
    assert.deepEqual(await inferHttp(s, 'b'), { status: 400, error: "Request for unknown model: 'b' is not found" });
  });

  it('HTTP load returns once the model is ready', async () => {
    assert.deepEqual(await post(s, '/v2/repository/models/b/load'), { status: 200, json: undefined });
    assert.deepEqual(await inferHttp(s, 'b'), { status: 200, version: '2', y: times(2) });
    assert.deepEqual((await index()).filter((r) => r.name === 'b'), [{ name: 'b', version: '2', state: 'READY' }]);
  });

  it('gRPC load of a loaded, unchanged model keeps its sessions; changed files reload', async () => {
    const keys = async () => (await s.executor.sessions()).flat().filter((k) => k.startsWith('a/')).sort();
    const before = await keys();
    assert.deepEqual(await c.unary('RepositoryModelLoad', { model_name: 'a' }), {});
    assert.deepEqual(await keys(), before);
    await writeOld(join(repo, 'a', '1', 'model.onnx'), await scalerModel(9));
    assert.deepEqual(await c.unary('RepositoryModelLoad', { model_name: 'a' }), {});
    assert.deepEqual(await inferGrpc(c, 'a'), { version: '1', y: times(9) });
    const now = await keys();
    assert.equal(now.length, 2);
    assert.ok(now.every((k) => !before.includes(k)), 'the old sessions were replaced');
  });

  it('loading a model with no folder fails as Triton does', async () => {
    assert.deepEqual(await post(s, '/v2/repository/models/nope/load'), { status: 500, json: { error: "failed to load 'nope', failed to poll from model repository" } });
    await assert.rejects(c.unary('RepositoryModelLoad', { model_name: 'nope' }), {
      code: grpc.status.INTERNAL, details: "failed to load 'nope', failed to poll from model repository",
    });
  });

  it('a corrupt model fails with its reason, in the answer and in the index', async () => {
    const r = await post(s, '/v2/repository/models/broken/load');
    assert.equal(r.status, 400);
    assert.match(r.json.error, /^load failed for model 'broken': version 1 is at UNAVAILABLE state: .+;\n$/s);
    await assert.rejects(c.unary('RepositoryModelLoad', { model_name: 'broken' }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.details, /^load failed for model 'broken': version 1 is at UNAVAILABLE state: /);
      return true;
    });
    const rows = (await index()).filter((x) => x.name === 'broken');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.version, '1');
    assert.equal(rows[0]!.state, 'UNAVAILABLE');
    assert.ok(r.json.error.includes(rows[0]!.reason), 'the index gives the same reason');
    assert.deepEqual(await inferHttp(s, 'broken'), { status: 503, error: "Request for unknown model: 'broken' has no available versions" });
  });

  it('a broken config.pbtxt fails with the parse error', async () => {
    const r = await post(s, '/v2/repository/models/cfgbad/load');
    assert.equal(r.status, 400);
    assert.match(r.json.error, /^load failed for model 'cfgbad': .*config\.pbtxt/s);
    const rows = (await index()).filter((x) => x.name === 'cfgbad');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.state, 'UNAVAILABLE');
    assert.match(rows[0]!.reason!, /config\.pbtxt/);
  });

  it('config override (JSON) replaces config.pbtxt', async () => {
    const r = await post(s, '/v2/repository/models/b/load', { parameters: { config: jsonConfig('b', { version_policy: { all: {} } }) } });
    assert.deepEqual(r, { status: 200, json: undefined });
    assert.deepEqual(await inferHttp(s, 'b', '1'), { status: 200, version: '1', y: times(1) });
    assert.deepEqual(await inferHttp(s, 'b', '2'), { status: 200, version: '2', y: times(2) });
    // gRPC, back to one version.
    await c.unary('RepositoryModelLoad', { model_name: 'b', parameters: { config: { string_param: jsonConfig('b', { version_policy: { specific: { versions: [1] } } }) } } });
    assert.deepEqual((await index()).filter((x) => x.name === 'b'), [{ name: 'b', version: '1', state: 'READY' }]);
    // Triton fails a malformed override while polling: INTERNAL, one message, the detail only logged.
    for (const config of ['{"max_batch_size": "many"}', '{"name": ', '[]']) {
      const bad = await post(s, '/v2/repository/models/b/load', { parameters: { config } });
      assert.deepEqual(bad, { status: 500, json: { error: "failed to load 'b', failed to poll from model repository" } });
      await assert.rejects(c.unary('RepositoryModelLoad', { model_name: 'b', parameters: { config: { string_param: config } } }), {
        code: grpc.status.INTERNAL, details: "failed to load 'b', failed to poll from model repository",
      });
    }
    assert.ok(s.logs.some((l) => l.msg === "failed to load 'b', failed to poll from model repository" && String(l.reason).startsWith('invalid model config JSON')), 'the detail is logged');
    assert.deepEqual(await inferHttp(s, 'b'), { status: 200, version: '1', y: times(1) }, 'a bad override leaves what serves');
  });

  it('file: contents that cannot be written (a 256-character file name, a path out of the folder) fail as Triton does, with no path in the answer', async () => {
    const model = (await scalerModel(5)).toString('base64');
    for (const file of [`file:1/${'m'.repeat(256)}`, 'file:../../escape.onnx', 'file:/etc/x.onnx']) {
      const r = await post(s, '/v2/repository/models/upload_bad/load', { parameters: { config: jsonConfig('upload_bad'), [file]: model } });
      assert.deepEqual(r, { status: 500, json: { error: "failed to load 'upload_bad', failed to poll from model repository" } }, file);
      await assert.rejects(c.unary('RepositoryModelLoad', {
        model_name: 'upload_bad', parameters: { config: { string_param: jsonConfig('upload_bad') }, [file]: { bytes_param: Buffer.from(model, 'base64') } },
      }), { code: grpc.status.INTERNAL, details: "failed to load 'upload_bad', failed to poll from model repository" });
    }
    await post(s, '/v2/repository/models/upload_bad/unload');
  });

  it('file: contents, base64 over HTTP and bytes over gRPC, load without any folder', async () => {
    const up = await post(s, '/v2/repository/models/uploaded/load', {
      parameters: { config: jsonConfig('uploaded'), 'file:1/model.onnx': (await scalerModel(5)).toString('base64') },
    });
    assert.deepEqual(up, { status: 200, json: undefined });
    assert.deepEqual(await inferHttp(s, 'uploaded'), { status: 200, version: '1', y: times(5) });
    await c.unary('RepositoryModelLoad', {
      model_name: 'uploaded_grpc',
      parameters: { config: { string_param: jsonConfig('uploaded_grpc') }, 'file:3/model.onnx': { bytes_param: await scalerModel(6) } },
    });
    assert.deepEqual(await inferGrpc(c, 'uploaded_grpc'), { version: '3', y: times(6) });
    const rows = (await index()).filter((x) => x.name.startsWith('uploaded'));
    assert.deepEqual(rows, [{ name: 'uploaded', version: '1', state: 'READY' }, { name: 'uploaded_grpc', version: '3', state: 'READY' }]);
    const noConfig = await post(s, '/v2/repository/models/uploaded/load', { parameters: { 'file:1/model.onnx': (await scalerModel(5)).toString('base64') } });
    assert.equal(noConfig.status, 400);
    assert.match(noConfig.json.error, /must provide 'config' parameter when 'file:' contents are supplied/);
    await c.unary('RepositoryModelUnload', { model_name: 'uploaded_grpc' });
    assert.deepEqual((await index()).filter((x) => x.name.startsWith('uploaded')), [{ name: 'uploaded', version: '1', state: 'READY' }]);
  });

  it('unload over both protocols: the model is unknown afterwards and its sessions are gone', async () => {
    assert.deepEqual(await post(s, '/v2/repository/models/b/unload'), { status: 200, json: undefined });
    assert.deepEqual(await inferHttp(s, 'b'), { status: 400, error: "Request for unknown model: 'b' is not found" });
    assert.deepEqual((await index()).filter((x) => x.name === 'b'), [{ name: 'b', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    assert.deepEqual((await s.executor.sessions()).flat().filter((k) => k.startsWith('b/')), []);
    assert.deepEqual(await c.unary('RepositoryModelUnload', { model_name: 'a', parameters: { unload_dependents: { bool_param: true } } }), {});
    await assert.rejects(inferGrpc(c, 'a'), { code: grpc.status.INVALID_ARGUMENT, details: "Request for unknown model: 'a' is not found" });
    // Unknown models: nothing to do, as in Triton.
    assert.deepEqual(await post(s, '/v2/repository/models/nope/unload'), { status: 200, json: undefined });
    assert.deepEqual(await c.unary('RepositoryModelUnload', { model_name: 'nope' }), {});
    // And back.
    assert.deepEqual(await post(s, '/v2/repository/models/a/load'), { status: 200, json: undefined });
    assert.deepEqual(await inferHttp(s, 'a'), { status: 200, version: '1', y: times(9) });
  });

  it('server readiness follows the models that should serve', async () => {
    // 'broken' and 'cfgbad' were asked for and have no serving version.
    assert.equal((await fetch(`${s.httpUrl}/v2/health/ready`)).status, 400);
    await post(s, '/v2/repository/models/broken/unload');
    await post(s, '/v2/repository/models/cfgbad/unload');
    assert.equal((await fetch(`${s.httpUrl}/v2/health/ready`)).status, 200);
    assert.deepEqual(await c.unary('ServerReady'), { ready: true });
  });
});

for (const mode of ['none', 'poll'] as const) {
  describe(`model control in ${mode} mode`, () => {
    let s: TestServer;
    let c: GrpcTestClient;
    scratchServer(async (r) => { await writeScaler(r, 'a', { 1: 1 }); },
      { modelControlMode: mode, workerThreads: 1, allowMetrics: false }, (h) => ({ s, c } = h));

    it('load and unload are refused with UNAVAILABLE', async () => {
      const msg = 'explicit model load / unload is not allowed if polling is enabled';
      assert.deepEqual(await post(s, '/v2/repository/models/a/load'), { status: 503, json: { error: msg } });
      assert.deepEqual(await post(s, '/v2/repository/models/a/unload'), { status: 503, json: { error: msg } });
      await assert.rejects(c.unary('RepositoryModelLoad', { model_name: 'a' }), { code: grpc.status.UNAVAILABLE, details: msg });
      await assert.rejects(c.unary('RepositoryModelUnload', { model_name: 'a' }), { code: grpc.status.UNAVAILABLE, details: msg });
      assert.deepEqual(await inferHttp(s, 'a'), { status: 200, version: '1', y: times(1) });
    });
  });
}

