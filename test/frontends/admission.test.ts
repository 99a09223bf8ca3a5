/**
 * Issue 16, item 9, against a real server: a request for a model whose queue is full
 * is refused before its body is read (HTTP, every engine) or decoded (gRPC unary and
 * stream), with Triton's text; per-client rate limits answer 429 with Retry-After
 * over HTTP and RESOURCE_EXHAUSTED over gRPC, counted in osprey_rate_limited_total.
 * After each, the server still answers a good request.
 *
 * The full queue is made deterministic: `simple_q` waits up to 2 s to fill a batch
 * of 8 and holds at most 2 requests, so two requests of one row keep it full.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { availableEngines } from '../helpers/engines.js';
import { createGrpcClient, rawInferRequest, tensor, type GrpcTestClient } from '../helpers/grpc-client.js';
import { rawHttp, rawPost } from '../helpers/raw-http.js';
import { BUNDLED_REPO, startTestServer, type TestServer } from '../helpers/server.js';

const QUEUE_CONFIG = `name: "simple_q"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "INPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
dynamic_batching { preferred_batch_size: [ 8 ] max_queue_delay_microseconds: 2000000 default_queue_policy { max_queue_size: 2 } }
`;

function inferBody(a: number): string {
  return JSON.stringify({ inputs: [
    { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: Array(16).fill(a) },
    { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: Array(16).fill(1) },
  ] });
}

const ints = (v: number) => new Uint8Array(new Int32Array(16).fill(v).buffer);
const goodGrpc = (model: string) => rawInferRequest(model, [tensor('INPUT0', 'INT32', [1, 16], ints(1)), tensor('INPUT1', 'INT32', [1, 16], ints(2))]);

let repo: string;
let client = 0;
/** A fresh rate-limit key per call, so only the rate-limit test meets its limit. */
const fresh = () => `client-${++client}`;

before(() => {
  repo = mkdtempSync(join(tmpdir(), 'osprey-admission-'));
  cpSync(join(BUNDLED_REPO, 'simple'), join(repo, 'simple'), { recursive: true });
  cpSync(join(BUNDLED_REPO, 'simple', '1'), join(repo, 'simple_q', '1'), { recursive: true });
  writeFileSync(join(repo, 'simple_q', 'config.pbtxt'), QUEUE_CONFIG);
});
after(() => rmSync(repo, { recursive: true, force: true }));

for (const engine of availableEngines()) {
  describe(`early refusal and rate limits (${engine})`, () => {
    let s: TestServer;
    let g: GrpcTestClient;

    before(async () => {
      s = await startTestServer({
        modelRepositories: [repo], httpEngine: engine,
        clientRateLimit: 2, clientRateBurst: 3, clientRateKey: 'x-client',
      });
      g = createGrpcClient(s.grpcAddress);
    });
    after(async () => {
      g?.close();
      await s?.shutdown();
    });

    const post = (model: string, a: number, key = fresh()) =>
      rawHttp(s.httpPort, rawPost(`/v2/models/${model}/infer`, inferBody(a), { 'X-Client': key }), { expect: 1, waitMs: 10_000 });

    /** Two one-row requests that wait in simple_q's queue (their batch never fills), and the queue full. */
    async function fillQueue(): Promise<Array<Promise<unknown>>> {
      const v = s.registry.resolve('simple_q', '');
      assert.equal(v.batcher.full, false, 'the queue is full before the test');
      const held = [post('simple_q', 1), post('simple_q', 2)];
      const until = performance.now() + 5000;
      while (!v.batcher.full) {
        assert.ok(performance.now() < until, 'the queue never filled');
        await new Promise((r) => setTimeout(r, 5));
      }
      return held;
    }

    async function failCount(): Promise<number> {
      const r = await rawHttp(s.httpPort, 'GET /v2/models/simple_q/stats HTTP/1.1\r\nHost: osprey\r\n\r\n', { expect: 1 });
      return (JSON.parse(r.responses[0]!.body) as { model_stats: Array<{ inference_stats: { fail: { count: number } } }> }).model_stats[0]!.inference_stats.fail.count;
    }

    test('full queue: 503 "Exceeds maximum queue size" before any body byte is read, over HTTP and gRPC', async () => {
      const held = await fillQueue();
      // Declared 100 kB, nothing sent: only an answer from the path alone can come back.
      const t0 = performance.now();
      const r = await rawHttp(s.httpPort, `POST /v2/models/simple_q/infer HTTP/1.1\r\nHost: osprey\r\nX-Client: ${fresh()}\r\nContent-Length: 100000\r\n\r\n`, { expect: 1, waitMs: 1500 });
      const ms = performance.now() - t0;
      assert.equal(r.responses.length, 1, 'no answer without the body: refused only after reading it');
      assert.equal(r.responses[0]!.status, 503);
      assert.deepEqual(JSON.parse(r.responses[0]!.body), { error: 'Exceeds maximum queue size' });
      assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
      // A complete request on a kept-alive connection: refused, and the next one on it answered.
      const two = await rawHttp(s.httpPort, Buffer.concat([
        rawPost('/v2/models/simple_q/infer', inferBody(3), { 'X-Client': fresh() }),
        Buffer.from('GET /v2/health/live HTTP/1.1\r\nHost: osprey\r\n\r\n'),
      ]), { expect: 2 });
      assert.deepEqual(two.responses.map((x) => x.status), [503, 200]);

      // gRPC: a message that would fail to decode (3 bytes for 16 INT32s) is refused for the queue.
      const bad = rawInferRequest('simple_q', [tensor('INPUT0', 'INT32', [1, 16], new Uint8Array(3)), tensor('INPUT1', 'INT32', [1, 16], new Uint8Array(3))]);
      const md = new grpc.Metadata();
      md.set('x-client', fresh());
      await assert.rejects(g.infer(bad, { metadata: md }), (e: grpc.ServiceError) => {
        assert.equal(e.code, grpc.status.UNAVAILABLE);
        assert.equal(e.details, 'Exceeds maximum queue size');
        return true;
      });
      const stream = g.stream();
      stream.write(bad);
      const answer = await stream.next();
      assert.equal(answer.error_message, 'Exceeds maximum queue size');
      stream.end();
      await stream.finished;

      // The held requests are served once their batch window ends; then a good request is.
      for (const h of await Promise.all(held) as Array<{ responses: Array<{ status: number }> }>) assert.equal(h.responses[0]?.status, 200);
      const ok = await post('simple', 5);
      assert.equal(ok.responses[0]?.status, 200);
      assert.equal((await g.infer(goodGrpc('simple_q'))).model_name, 'simple_q');
    });

    test('early refusals count as rejected requests in the model statistics', async () => {
      const before = await failCount();
      const held = await fillQueue();
      const refused = await Promise.all([post('simple_q', 4), post('simple_q', 5), post('simple_q', 6)]);
      assert.deepEqual(refused.map((r) => r.responses[0]?.status), [503, 503, 503]);
      await Promise.all(held);
      assert.equal(await failCount() - before, 3);
    });

    test('rate limit: 429 with Retry-After over HTTP, RESOURCE_EXHAUSTED over gRPC, counted in metrics', async () => {
      // Burst 3 at 2 a second: the 4th request at once is refused; other clients are not.
      const alice = await Promise.all([1, 2, 3, 4].map((i) => post('simple', i, 'alice')));
      assert.deepEqual(alice.map((r) => r.responses[0]?.status).sort(), [200, 200, 200, 429]);
      const limited = alice.find((r) => r.responses[0]?.status === 429)!.responses[0]!;
      assert.equal(limited.headers['retry-after'], '1');
      assert.deepEqual(JSON.parse(limited.body), { error: 'rate limit exceeded for this client (--client-rate-limit); retry after 1 s' });
      assert.equal((await post('simple', 9, 'carol')).responses[0]?.status, 200);

      const md = new grpc.Metadata();
      md.set('x-client', 'bob');
      const bob = await Promise.allSettled([1, 2, 3, 4].map(() => g.infer(goodGrpc('simple'), { metadata: md })));
      const refused = bob.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(refused.length, 1, JSON.stringify(bob.map((r) => r.status)));
      const e = refused[0]!.reason as grpc.ServiceError;
      assert.equal(e.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.equal(e.details, 'rate limit exceeded for this client (--client-rate-limit); retry after 1 s');
      assert.deepEqual(e.metadata.get('retry-after'), ['1']);

      const metrics = await (await fetch(`${s.metricsUrl}/metrics`)).text();
      assert.match(metrics, /^osprey_rate_limited_total\{protocol="http"\} 1$/m);
      assert.match(metrics, /^osprey_rate_limited_total\{protocol="grpc"\} 1$/m);

      // A token comes back every 500 ms.
      await new Promise((r) => setTimeout(r, 600));
      assert.equal((await post('simple', 1, 'alice')).responses[0]?.status, 200);
      assert.equal((await g.infer(goodGrpc('simple'), { metadata: md })).model_name, 'simple');
    });
  });
}
