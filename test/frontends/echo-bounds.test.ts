/**
 * Regression (issue 16, item 6): client strings echoed in error messages are
 * bounded. A 100 KB model name used to make a gRPC status message larger than the
 * client's header limit: the call hung and later calls on the connection timed
 * out. Every case here sends a huge client string (model name, version, id, input
 * name, ASCII and not) and asserts a bounded answer, then a good call on the same
 * connection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { boundMessage } from '../../src/errors/errors.js';
import { createGrpcClient, rawInferRequest, type GrpcTestClient } from '../helpers/grpc-client.js';
import { settledRss } from '../helpers/memory.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const HUGE = 'm'.repeat(100_000);
const HUGE_WIDE = 'é'.repeat(50_000);
const f32x4 = () => new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);

/** The grpc-message trailer as grpc-js would percent-encode it. */
function encodedBytes(s: string): number {
  let n = 0;
  for (const b of Buffer.from(s, 'utf8')) n += b >= 0x20 && b <= 0x7e && b !== 0x25 ? 1 : 3;
  return n;
}

describe('echoed client strings are bounded', () => {
  let s: TestServer;
  let c: GrpcTestClient;
  let rssStart = 0;

  before(async () => {
    s = await startTestServer({ allowMetrics: false, workerThreads: 2 });
    c = createGrpcClient(s.grpcAddress);
    await good();
    rssStart = await settledRss();
  });
  after(async () => {
    c?.close();
    await s?.shutdown();
  });

  async function good(): Promise<void> {
    const res = await c.infer(rawInferRequest('scaler', [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: f32x4() }]), { deadline: 10_000 });
    assert.equal(res.model_name, 'scaler');
  }

  const bounded = (msg: string): void => {
    assert.ok(encodedBytes(msg) <= 4096, `message of ${encodedBytes(msg)} encoded bytes`);
  };

  it('boundMessage: short messages untouched; long quoted parts clipped; the total within budget', () => {
    assert.equal(boundMessage("Request for unknown model: 'x' is not found"), "Request for unknown model: 'x' is not found");
    const m = boundMessage(`Request for unknown model: '${HUGE}' is not found`);
    assert.equal(m, `Request for unknown model: '${'m'.repeat(256)}...' (99744 more characters) is not found`);
    for (const s of [HUGE, HUGE_WIDE, `'${HUGE_WIDE}'`, '\u{1F600}'.repeat(9000), `x '${HUGE}' y '${HUGE}' z`]) bounded(boundMessage(s));
  });

  for (const [what, name] of [['ASCII', HUGE], ['non-ASCII', HUGE_WIDE]] as const) {
    it(`gRPC: a ${what} 100 KB model name, version, input name and id answer a bounded status; the connection keeps working`, async () => {
      const cases = [
        rawInferRequest(name, [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: f32x4() }]),
        rawInferRequest('scaler', [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: f32x4() }], { version: name }),
        rawInferRequest('scaler', [{ name, datatype: 'FP32', shape: [1, 4], data: f32x4() }]),
        rawInferRequest('scaler', [{ name: 'x', datatype: 'FP32', shape: [1, 5], data: new Uint8Array(20) }], { id: name }),
      ];
      for (const req of cases) {
        await assert.rejects(c.infer(req, { deadline: 10_000 }), (e: grpc.ServiceError) => {
          assert.notEqual(e.code, grpc.status.DEADLINE_EXCEEDED, e.details);
          bounded(e.details);
          return true;
        });
        await good();
      }
      assert.equal((await c.unary('ModelReady', { name, version: '' }, { deadline: 10_000 })).ready, false);
      for (const method of ['ModelMetadata', 'ModelConfig', 'ModelStatistics']) {
        await assert.rejects(c.unary(method, { name, version: '' }, { deadline: 10_000 }), (e: grpc.ServiceError) => {
          assert.notEqual(e.code, grpc.status.DEADLINE_EXCEEDED, `${method}: ${e.details}`);
          bounded(e.details);
          return true;
        });
      }
      const st = c.stream();
      st.write(cases[0]!);
      bounded((await st.next()).error_message);
      st.end();
      await st.finished;
      await good();
    });
  }

  it('HTTP: a huge model name in the path, input name and id in the body answer a bounded error', async () => {
    const path = `/v2/models/${'m'.repeat(6000)}/infer`;
    const r1 = await fetch(`${s.httpUrl}${path}`, { method: 'POST', body: JSON.stringify({ inputs: [] }) });
    assert.ok(r1.status >= 400 && r1.status < 500, String(r1.status));
    bounded((await r1.json()).error);
    for (const body of [
      { inputs: [{ name: HUGE, shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] },
      { id: HUGE, inputs: [{ name: 'x', shape: [1, 5], datatype: 'FP32', data: [1, 2, 3, 4, 5] }] },
      { inputs: [{ name: 'x', shape: [1, 4], datatype: HUGE_WIDE, data: [1, 2, 3, 4] }] },
    ]) {
      const r = await fetch(`${s.httpUrl}/v2/models/scaler/infer`, { method: 'POST', body: JSON.stringify(body) });
      assert.equal(r.status, 400);
      bounded((await r.json()).error);
    }
    const ok = await fetch(`${s.httpUrl}/v2/models/scaler/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }) });
    assert.equal(ok.status, 200);
  });

  it('memory stays near where it started', async () => {
    await good();
    const grown = await settledRss() - rssStart;
    assert.ok(grown < 150 * 1024 * 1024, `rss grew ${grown} bytes`);
  });
});
