/**
 * Readiness when every model loads: the bundled repository alone, under the default
 * --strict-readiness. (The other conformance servers also serve fixtures that fail
 * to load on purpose, so there the server is live but not ready.)
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { BUNDLED_REPO, type TestServer, startTestServer } from '../helpers/server.js';
import { GrpcDriver, HttpDriver } from './drivers.js';

let server: TestServer;
let http: HttpDriver;
let grpc: GrpcDriver;

before(async () => {
  server = await startTestServer({ modelRepositories: [BUNDLED_REPO] });
  http = new HttpDriver(server.httpUrl);
  grpc = new GrpcDriver(server.grpcAddress);
});

after(async () => {
  grpc?.close();
  await server?.shutdown();
});

it('http: live and ready (200, empty bodies)', async () => {
  assert.equal(await http.live(), true);
  assert.equal(await http.ready(), true);
});

it('grpc: ServerLive, ServerReady, grpc.health.v1 SERVING', async () => {
  assert.equal(await grpc.live(), true);
  assert.equal(await grpc.ready(), true);
  assert.equal(await grpc.client.healthCheck(), 'SERVING');
});

it('after shutdown begins: not live, not ready, requests refused', async () => {
  server.dataPlane.stopAccepting();
  assert.equal(await http.live(), false);
  assert.equal(await http.ready(), false);
  assert.equal(await grpc.live(), false);
  assert.equal(await grpc.client.healthCheck(), 'NOT_SERVING');
  const out = await http.infer({
    model: 'scaler', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], values: [1, 2, 3, 4] }],
  }, 'typed');
  assert.deepEqual(out, { ok: false, code: 503, message: 'Server is shutting down' });
  const g = await grpc.infer({
    model: 'scaler', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], values: [1, 2, 3, 4] }],
  }, 'raw');
  assert.deepEqual(g, { ok: false, code: 14, message: 'Server is shutting down' });
});
