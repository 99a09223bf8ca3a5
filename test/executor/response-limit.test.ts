/**
 * Regression (issue 16, item 5): --max-response-bytes. `grow` answers a tensor of
 * whatever shape its INT64 input names (ConstantOfShape), so a 16-byte request can
 * ask for gigabytes. Over the limit the request fails with a clear error, checked
 * on the worker before the bytes cross to the main thread; the server stays up,
 * other models keep serving, and memory comes back.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { createGrpcClient, rawInferRequest, type GrpcTestClient } from '../helpers/grpc-client.js';
import { settledRss } from '../helpers/memory.js';
import { FIXTURE_REPO, startTestServer, type TestServer } from '../helpers/server.js';

const HARDENING_REPO = fileURLToPath(new URL('../../../test/fixtures/hardening/', import.meta.url));
const LIMIT = 32 * 1024 * 1024;

async function post(s: TestServer, path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${s.httpUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

const growBody = (rows: number, cols: number, binary = true) => ({
  inputs: [{ name: 'shape', shape: [2], datatype: 'INT64', data: [rows, cols] }],
  outputs: [{ name: 'y', parameters: { binary_data: binary } }],
});

describe('--max-response-bytes', () => {
  let s: TestServer;
  let c: GrpcTestClient;
  let rssStart = 0;

  before(async () => {
    s = await startTestServer({ modelRepositories: [HARDENING_REPO, FIXTURE_REPO], maxResponseBytes: LIMIT, allowMetrics: false, workerThreads: 2 });
    c = createGrpcClient(s.grpcAddress);
    await scalerServes();
    rssStart = await settledRss();
  });
  after(async () => {
    c?.close();
    await s?.shutdown();
  });

  async function scalerServes(): Promise<void> {
    const r = await post(s, '/v2/models/scaler/infer', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });
    assert.equal(r.status, 200, JSON.stringify(r.json));
  }

  it('an answer within the limit is served whole', async () => {
    const res = await fetch(`${s.httpUrl}/v2/models/grow/infer`, { method: 'POST', body: JSON.stringify(growBody(1000, 1000)) });
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    const header = Number(res.headers.get('inference-header-content-length'));
    assert.equal(body.byteLength - header, 4_000_000);
  });

  it('HTTP: an answer over the limit is a 400 that names the limit; the next request is served', async () => {
    // 4 * 4000 * 4000 = 64 MB, twice the limit.
    const r = await post(s, '/v2/models/grow/infer', growBody(4000, 4000));
    assert.equal(r.status, 400);
    assert.equal(r.json.error, `response of 64000000 bytes exceeds the limit of ${LIMIT} bytes (--max-response-bytes)`);
    await scalerServes();
    assert.equal((await post(s, '/v2/models/grow/infer', growBody(2, 2, false))).status, 200);
  });

  it('gRPC: RESOURCE_EXHAUSTED, unary and on a stream (which stays open)', async () => {
    const req = rawInferRequest('grow', [{ name: 'shape', datatype: 'INT64', shape: [2], data: new Uint8Array(new BigInt64Array([5000n, 5000n]).buffer) }]);
    await assert.rejects(c.infer(req), (e: grpc.ServiceError) => e.code === grpc.status.RESOURCE_EXHAUSTED && /exceeds the limit of 33554432 bytes/.test(e.details));
    const st = c.stream();
    st.write(req);
    const bad = await st.next();
    assert.match(bad.error_message, /exceeds the limit/);
    st.write(rawInferRequest('grow', [{ name: 'shape', datatype: 'INT64', shape: [2], data: new Uint8Array(new BigInt64Array([2n, 3n]).buffer) }]));
    const good = await st.next();
    assert.equal(good.error_message, '');
    assert.deepEqual(good.infer_response!.outputs[0]!.shape.map(Number), [2, 3]);
    st.end();
    assert.equal((await st.finished).code, grpc.status.OK);
  });

  it('repeated oversized answers leave memory near where it started, and other models serving', async () => {
    const work: Array<Promise<unknown>> = [];
    for (let i = 0; i < 6; i++) {
      work.push(post(s, '/v2/models/grow/infer', growBody(6000, 3000)).then((r) => assert.equal(r.status, 400)));
      work.push(scalerServes());
    }
    await Promise.all(work);
    // Generous: each refused answer was ~72 MB in the worker; six of them held would be 430 MB.
    const grown = await settledRss() - rssStart;
    assert.ok(grown < 200 * 1024 * 1024, `rss grew ${grown} bytes`);
  });
});
