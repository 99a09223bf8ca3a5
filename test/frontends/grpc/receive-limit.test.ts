/**
 * Regression (issue 16, item 4): received gRPC messages are bounded by the request
 * limit (--max-request-bytes, the HTTP body limit too), counted after
 * decompression. A small gzip frame that inflates past the limit is refused with
 * RESOURCE_EXHAUSTED, without the process ever holding the inflated bytes, and the
 * server keeps serving.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { createGrpcClient, rawInferRequest, type GrpcTestClient } from '../../helpers/grpc-client.js';
import { settledRss } from '../../helpers/memory.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const LIMIT = 1024 * 1024;

const scalerRequest = (bytes: number) => rawInferRequest('scaler', [{
  name: 'x', datatype: 'FP32', shape: [bytes / 16, 4], data: new Uint8Array(bytes),
}]);

describe('gRPC received-message bound', () => {
  let s: TestServer;
  let plain: GrpcTestClient;
  let gzip: GrpcTestClient;
  let rssStart = 0;

  before(async () => {
    s = await startTestServer({ maxRequestBytes: LIMIT, allowMetrics: false, workerThreads: 2 });
    plain = createGrpcClient(s.grpcAddress);
    // 2 = gzip: every message this client sends is compressed.
    gzip = createGrpcClient(s.grpcAddress, { 'grpc.default_compression_algorithm': 2 });
    await good(plain);
    rssStart = await settledRss();
  });
  after(async () => {
    plain?.close();
    gzip?.close();
    await s?.shutdown();
  });

  async function good(c: GrpcTestClient): Promise<void> {
    const res = await c.infer(scalerRequest(64));
    assert.equal(res.model_name, 'scaler');
    assert.equal(res.raw_output_contents[0]!.byteLength, 64);
  }

  it('a small message is served, compressed or not', async () => {
    await good(plain);
    await good(gzip);
  });

  it('an uncompressed message over the limit: RESOURCE_EXHAUSTED', async () => {
    await assert.rejects(plain.infer(scalerRequest(2 * LIMIT)), (e: grpc.ServiceError) => e.code === grpc.status.RESOURCE_EXHAUSTED);
    await good(plain);
  });

  it('a gzip frame that inflates past the limit (zeros: ~1000x) is refused on both infer RPCs', async () => {
    // 64 MiB of zeros travels as ~64 KB; the server stops inflating at 1 MiB.
    for (let i = 0; i < 4; i++) {
      await assert.rejects(gzip.infer(scalerRequest(64 * LIMIT)), (e: grpc.ServiceError) =>
        e.code === grpc.status.RESOURCE_EXHAUSTED && /larger than 1048576/.test(e.details));
    }
    const st = gzip.stream();
    st.write(scalerRequest(64 * LIMIT));
    const status = await st.finished;
    assert.equal(status.code, grpc.status.RESOURCE_EXHAUSTED);
    await good(gzip);
    await good(plain);
  });

  it('memory stays near where it started', async () => {
    // Generous: the client's own 64 MiB buffers come and go in this process too.
    const grown = await settledRss() - rssStart;
    assert.ok(grown < 160 * 1024 * 1024, `rss grew ${grown} bytes`);
  });
});
