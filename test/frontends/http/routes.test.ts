/**
 * Every non-infer HTTP route over real HTTP against the uWS server, backed by the
 * DataPlane test double: status codes, bodies, and `{"error"}` on every non-2xx.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpServer, type HttpServer } from '../../../src/frontends/http/server.js';
import { httpRequest, type HttpReply, replyJson } from '../../helpers/http-client.js';
import { FakeDataPlane } from './fake-dataplane.js';

let dp: FakeDataPlane;
let server: HttpServer;
let base: string;

before(async () => {
  dp = new FakeDataPlane();
  server = await startHttpServer(dp, { host: '127.0.0.1', port: 0, maxBodyBytes: 1 << 20 });
  base = `http://127.0.0.1:${server.port}`;
});
after(() => server.close());

const get = (path: string): Promise<HttpReply> => httpRequest(base, 'GET', path);
const post = (path: string, body?: string): Promise<HttpReply> =>
  httpRequest(base, 'POST', path, body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } });

/** A non-2xx answer: exact status, JSON content type, an `error` string containing `text`. */
function assertError(reply: HttpReply, status: number, text: string): void {
  assert.equal(reply.status, status, reply.body.toString());
  assert.equal(reply.headers['content-type'], 'application/json');
  const body = replyJson(reply);
  assert.equal(typeof body.error, 'string');
  assert.ok(body.error.includes(text), `error ${JSON.stringify(body.error)} should contain ${JSON.stringify(text)}`);
}

describe('health', () => {
  it('answers 200 with an empty body when live and ready', async () => {
    for (const path of ['/v2/health/live', '/v2/health/ready']) {
      const r = await get(path);
      assert.equal(r.status, 200);
      assert.equal(r.body.byteLength, 0);
    }
  });

  it('answers 400 with an empty body when not live / not ready', async () => {
    dp.live = false;
    dp.ready = false;
    try {
      for (const path of ['/v2/health/live', '/v2/health/ready']) {
        const r = await get(path);
        assert.equal(r.status, 400);
        assert.equal(r.body.byteLength, 0);
      }
    } finally {
      dp.live = true;
      dp.ready = true;
    }
  });
});

describe('metadata and config', () => {
  it('GET /v2 is the server metadata', async () => {
    const r = await get('/v2');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(replyJson(r), dp.serverMetadata());
  });

  it('GET /v2/models/{m}[/versions/{v}] is the model metadata', async () => {
    for (const path of ['/v2/models/echo', '/v2/models/echo/versions/1']) {
      const r = await get(path);
      assert.equal(r.status, 200);
      assert.deepEqual(replyJson(r), dp.modelMetadata('echo', ''));
    }
  });

  it('URL-decodes model names', async () => {
    const r = await get(`/v2/models/${encodeURIComponent('odd name:v@1 +x')}`);
    assert.equal(r.status, 200);
    assert.equal(replyJson(r).name, 'odd name:v@1 +x');
  });

  it('unknown model -> 400 with Triton\'s message', async () => {
    assertError(await get('/v2/models/x'), 400, "Request for unknown model: 'x' is not found");
    assertError(await get('/v2/models/x/config'), 400, "Request for unknown model: 'x' is not found");
    assertError(await get('/v2/models/echo/versions/7'), 400, "Request for unknown model: 'echo' version 7 is not found");
  });

  it('a version that is not decimal digits -> 400', async () => {
    for (const path of ['/v2/models/echo/versions/abc', '/v2/models/echo/versions/1a/ready', '/v2/models/echo/versions/-1/config']) {
      assertError(await get(path), 400, 'a version must be a decimal number');
    }
  });

  it('malformed percent-encoding -> 400', async () => {
    assertError(await get('/v2/models/%E0%A4%A/ready'), 400, 'malformed percent-encoding');
  });

  it('GET /v2/models/{m}/config is the config as JSON', async () => {
    const r = await get('/v2/models/echo/versions/1/config');
    assert.equal(r.status, 200);
    assert.deepEqual(replyJson(r), dp.modelConfig('echo', ''));
  });

  it('GET /v2/models/{m}/ready: 200 empty, or 400 with an error', async () => {
    const ok = await get('/v2/models/echo/ready');
    assert.equal(ok.status, 200);
    assert.equal(ok.body.byteLength, 0);
    assert.equal((await get('/v2/models/echo/versions/1/ready')).status, 200);
    assertError(await get('/v2/models/x/ready'), 400, "model 'x' is not ready");
    assertError(await get('/v2/models/echo/versions/3/ready'), 400, "model 'echo' version 3 is not ready");
  });
});

describe('statistics', () => {
  it('GET /v2/models/stats has every model', async () => {
    const r = await get('/v2/models/stats');
    assert.equal(r.status, 200);
    assert.deepEqual(replyJson(r), { model_stats: dp.modelStatistics('', '') });
  });

  it('GET /v2/models/{m}[/versions/{v}]/stats has one model', async () => {
    for (const path of ['/v2/models/echo/stats', '/v2/models/echo/versions/1/stats']) {
      const r = await get(path);
      assert.equal(r.status, 200);
      const body = replyJson(r);
      assert.equal(body.model_stats.length, 1);
      assert.equal(body.model_stats[0].name, 'echo');
      assert.deepEqual(body.model_stats[0].inference_stats.success, { count: 0, ns: 0 });
    }
    assertError(await get('/v2/models/x/stats'), 400, "Request for unknown model: 'x' is not found");
  });
});

describe('model repository', () => {
  it('POST /v2/repository/index answers a bare array', async () => {
    const all = await post('/v2/repository/index');
    assert.equal(all.status, 200);
    assert.deepEqual(replyJson(all), dp.repositoryIndex(false));
    const ready = await post('/v2/repository/index', '{"ready": true}');
    assert.deepEqual(replyJson(ready), dp.repositoryIndex(true));
    assertError(await post('/v2/repository/index', '{"ready": "yes"}'), 400, "'ready' must be a bool");
  });

  it('POST .../load passes config and base64 files as LoadOptions', async () => {
    const config = JSON.stringify({ max_batch_size: 2 });
    const body = JSON.stringify({
      parameters: { config, 'file:1/model.onnx': Buffer.from([0, 1, 2, 255]).toString('base64') },
    });
    const r = await post(`/v2/repository/models/${encodeURIComponent('a model')}/load`, body);
    assert.equal(r.status, 200);
    assert.equal(r.body.byteLength, 0);
    const last = dp.loads.at(-1)!;
    assert.equal(last.name, 'a model');
    assert.equal(last.options.config, config);
    assert.deepEqual([...last.options.files!.entries()], [['1/model.onnx', new Uint8Array([0, 1, 2, 255])]]);
  });

  it('POST .../load with an empty body loads with no options', async () => {
    const r = await post('/v2/repository/models/echo/load');
    assert.equal(r.status, 200);
    assert.deepEqual(dp.loads.at(-1), { name: 'echo', options: {} });
  });

  it('POST .../load rejects bad parameters', async () => {
    assertError(await post('/v2/repository/models/echo/load', '{"parameters":{"config":{}}}'), 400, "load parameter 'config' must be a string");
    assertError(await post('/v2/repository/models/echo/load', '{"parameters":{"file:1/model.onnx":"not base64!"}}'), 400, 'must be a base64 string');
    assertError(await post('/v2/repository/models/echo/load', '{"parameters":'), 400, 'failed to parse the request JSON buffer');
  });

  it('POST .../unload passes unload_dependents', async () => {
    const r = await post('/v2/repository/models/echo/unload', '{"parameters":{"unload_dependents":true}}');
    assert.equal(r.status, 200);
    assert.deepEqual(dp.unloads.at(-1), { name: 'echo', unloadDependents: true });
    assert.equal((await post('/v2/repository/models/echo/unload')).status, 200);
    assert.deepEqual(dp.unloads.at(-1), { name: 'echo', unloadDependents: false });
    assertError(await post('/v2/repository/models/x/unload'), 400, "Request for unknown model: 'x' is not found");
    assertError(await post('/v2/repository/models/echo/unload', '{"parameters":{"unload_dependents":1}}'), 400, "'unload_dependents' must be a bool");
  });

  it('a repository name in the path -> 501, as Triton answers it (nothing loaded or unloaded); wrong method still 405', async () => {
    const loads = dp.loads.length;
    const unloads = dp.unloads.length;
    for (const path of ['/v2/repository/r/index', '/v2/repository/r/models/echo/load', '/v2/repository/r/models/echo/unload']) {
      const r = await post(path, '{}');
      assertError(r, 501, "'repository_name' specification is not supported");
      assert.equal(replyJson(r).error, "'repository_name' specification is not supported");
      assert.equal((await get(path)).status, 405, path);
    }
    assert.equal(dp.loads.length, loads);
    assert.equal(dp.unloads.length, unloads);
  });
});

describe('logging', () => {
  it('GET returns the settings, POST updates them', async () => {
    assert.deepEqual(replyJson(await get('/v2/logging')), dp.logSettings());
    const r = await post('/v2/logging', '{"log_verbose_level": 2}');
    assert.equal(r.status, 200);
    assert.equal(replyJson(r).log_verbose_level, 2);
    assertError(await post('/v2/logging', '{"log_nope": 1}'), 400, "Logging setting 'log_nope' is not a valid setting");
    assertError(await post('/v2/logging', '{"log_info": [1]}'), 400, "log setting 'log_info' must be a bool, number or string");
  });
});

describe('shared memory', () => {
  it('a data plane without shared memory answers 501 on every shared memory route', async () => {
    const text = 'shared memory is not enabled on this server';
    for (const kind of ['systemsharedmemory', 'cudasharedmemory']) {
      assertError(await get(`/v2/${kind}/status`), 501, text);
      assertError(await get(`/v2/${kind}/region/r0/status`), 501, text);
      assertError(await post(`/v2/${kind}/region/r0/register`, '{"key":"/k","offset":0,"byte_size":4}'), 501, text);
      assertError(await post(`/v2/${kind}/unregister`), 501, text);
      assertError(await post(`/v2/${kind}/region/r0/unregister`), 501, text);
    }
  });
});

describe('unknown paths and wrong methods', () => {
  it('unknown path -> 404 with an error', async () => {
    for (const path of ['/', '/v1', '/v2/nope', '/v2/models', '/v2/models/echo/versions', '/v2/models/echo/bogus',
      '/v2/health', '/v2/models/echo/versions/1/infer/x', '/v2/systemsharedmemory/region/r0', '/v2/logging/x']) {
      assertError(await get(path), 404, 'unknown path');
    }
  });

  it('known path, wrong method -> 405 with an error and Allow', async () => {
    const r = await get('/v2/models/echo/infer');
    assertError(r, 405, 'method GET is not allowed');
    assert.equal(r.headers.allow, 'POST');
    assertError(await post('/v2/health/live'), 405, 'method POST is not allowed');
    assertError(await httpRequest(base, 'PUT', '/v2/logging'), 405, 'use GET, POST');
    assertError(await httpRequest(base, 'DELETE', '/v2/models/echo'), 405, 'method DELETE is not allowed');
    assertError(await get('/v2/repository/index'), 405, 'method GET is not allowed');
    assertError(await get('/v2/systemsharedmemory/unregister'), 405, 'method GET is not allowed');
  });

  it('still serves after errors: health, metadata and an inference answer correctly', async () => {
    // Everything above (404s, 405s, bad versions, bad bodies) ran on this server first.
    assert.equal((await get('/v2/health/live')).status, 200);
    const meta = await get('/v2/models/echo');
    assert.equal(meta.status, 200);
    assert.deepEqual(replyJson(meta), dp.modelMetadata('echo', ''));
    const r = await post('/v2/models/echo/infer', JSON.stringify({
      id: 'after-errors', inputs: [{ name: 'IN', datatype: 'INT32', shape: [3], data: [7, -8, 9] }],
    }));
    assert.equal(r.status, 200, r.body.toString());
    const body = replyJson(r) as { id: string; outputs: Array<{ name: string; data: number[] }> };
    assert.equal(body.id, 'after-errors');
    assert.deepEqual(body.outputs.map((o) => [o.name, o.data]), [['IN', [7, -8, 9]]]);
  });
});
