/**
 * Queue policies end to end (issue 6): with every instance busy on a heavy batch,
 * `max_queue_size` rejects with Triton's "Exceeds maximum queue size" (HTTP 503,
 * gRPC UNAVAILABLE) and a queue timeout with "Request timeout expired", over both
 * protocols, against a real server running the bundled cnn model.
 */
import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { rawInferRequest, tensor, type GrpcTestClient } from '../helpers/grpc-client.js';
import { infer } from '../helpers/http-client.js';
import { scratchServer } from '../helpers/scratch-server.js';
import { BUNDLED_REPO, type TestServer } from '../helpers/server.js';

const BATCH = 32;
const IMAGE = new Uint8Array(new Float32Array(BATCH * 3 * 32 * 32).fill(0.5).buffer);

function cnnConfig(name: string, queuePolicy: string): string {
  return `name: "${name}"
platform: "onnxruntime_onnx"
max_batch_size: 32
input [ { name: "image" data_type: TYPE_FP32 dims: [ 3, 32, 32 ] } ]
output [ { name: "logits" data_type: TYPE_FP32 dims: [ 10 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
dynamic_batching { default_queue_policy { ${queuePolicy} } }
`;
}

describe('queue policies end to end', () => {
  let server: TestServer;
  let grpc: GrpcTestClient;
  scratchServer(async (repo) => {
    const models: Record<string, string> = {
      cnn_qfull: 'max_queue_size: 1',
      cnn_timeout: 'timeout_action: REJECT default_timeout_microseconds: 2000',
      cnn_override: 'timeout_action: REJECT default_timeout_microseconds: 60000000 allow_timeout_override: true',
    };
    for (const [name, policy] of Object.entries(models)) {
      cpSync(join(BUNDLED_REPO, 'cnn', '1'), join(repo, name, '1'), { recursive: true });
      writeFileSync(join(repo, name, 'config.pbtxt'), cnnConfig(name, policy));
    }
  }, {}, (h) => { server = h.s; grpc = h.c; });

  const httpCall = (model: string, parameters?: Record<string, unknown>) =>
    infer(server.httpUrl, model, { parameters, inputs: [{ name: 'image', datatype: 'FP32', shape: [BATCH, 3, 32, 32], raw: IMAGE }] })
      .then(({ reply }) => ({ ok: reply.status === 200, status: reply.status, error: reply.status === 200 ? '' : JSON.parse(reply.body.toString()).error as string }));

  const grpcCall = (model: string) =>
    grpc.infer(rawInferRequest(model, [tensor('image', 'FP32', [BATCH, 3, 32, 32], IMAGE)]))
      .then(() => ({ ok: true, code: 0, error: '' }), (e: { code: number; details: string }) => ({ ok: false, code: e.code, error: e.details }));

  test('a full queue answers 503 / UNAVAILABLE "Exceeds maximum queue size" and the rest succeed', async () => {
    // One instance runs one 32-image batch (tens of ms); one more may wait; the rest are turned away.
    const http = await Promise.all(Array.from({ length: 8 }, () => httpCall('cnn_qfull')));
    const viaGrpc = await Promise.all(Array.from({ length: 8 }, () => grpcCall('cnn_qfull')));
    const rejectedHttp = http.filter((r) => !r.ok);
    const rejectedGrpc = viaGrpc.filter((r) => !r.ok);
    assert.ok(rejectedHttp.length >= 1 && rejectedHttp.length <= 6, `HTTP rejected ${rejectedHttp.length} of 8`);
    assert.ok(rejectedGrpc.length >= 1 && rejectedGrpc.length <= 6, `gRPC rejected ${rejectedGrpc.length} of 8`);
    for (const r of rejectedHttp) assert.deepEqual([r.status, r.error], [503, 'Exceeds maximum queue size']);
    for (const r of rejectedGrpc) assert.deepEqual([r.code, r.error], [14, 'Exceeds maximum queue size']);
    // The server keeps serving once the burst is over.
    assert.equal((await httpCall('cnn_qfull')).ok, true);
  });

  test('a queue timeout answers 503 / UNAVAILABLE "Request timeout expired"', async () => {
    const http = await Promise.all(Array.from({ length: 6 }, () => httpCall('cnn_timeout')));
    const viaGrpc = await Promise.all(Array.from({ length: 6 }, () => grpcCall('cnn_timeout')));
    const expiredHttp = http.filter((r) => !r.ok);
    const expiredGrpc = viaGrpc.filter((r) => !r.ok);
    // The first request of each burst runs at once; those queued behind a ~30 ms run outlive 2 ms.
    assert.ok(expiredHttp.length >= 1, 'some HTTP requests expired in the queue');
    assert.ok(expiredGrpc.length >= 1, 'some gRPC requests expired in the queue');
    for (const r of expiredHttp) assert.deepEqual([r.status, r.error], [503, 'Request timeout expired']);
    for (const r of expiredGrpc) assert.deepEqual([r.code, r.error], [14, 'Request timeout expired']);
    const stats = server.dataPlane.modelStatistics('cnn_timeout', '')[0]!;
    assert.equal(stats.inference_stats.fail.count, expiredHttp.length + expiredGrpc.length);
  });

  test('the timeout parameter lowers the queue timeout only where allow_timeout_override is set', async () => {
    const http = await Promise.all(Array.from({ length: 6 }, () => httpCall('cnn_override', { timeout: 1000 })));
    const expired = http.filter((r) => !r.ok);
    assert.ok(expired.length >= 1, 'a 1 ms override expires requests queued behind a batch');
    for (const r of expired) assert.deepEqual([r.status, r.error], [503, 'Request timeout expired']);
    // Without the parameter the 60 s default applies: nothing expires.
    const plain = await Promise.all(Array.from({ length: 6 }, () => httpCall('cnn_override')));
    assert.deepEqual(plain.filter((r) => !r.ok), []);
  });
});
