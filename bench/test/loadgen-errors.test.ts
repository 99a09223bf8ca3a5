/** Error tallies: every failed request is counted once, under its status. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildInputSteps } from '../loadgen/input-data.js';
import { buildPayloads } from '../loadgen/payload.js';
import { runLevel } from '../loadgen/run-level.js';
import { makeTransport } from '../loadgen/transport.js';
import { grpcDelayServer, httpDelayServer, META } from './delay-servers.js';

const busy = { ...META, name: 'busy', maxBatchSize: 8 };

for (const protocol of ['http', 'grpc'] as const) {
  test(`errors over ${protocol} are tallied by status and match what the server answered`, async () => {
    const srv = protocol === 'http' ? await httpDelayServer(5) : await grpcDelayServer(5);
    try {
      const steps = buildInputSteps(busy, { batchSize: 1, inputData: 'zero' });
      const p = buildPayloads(protocol === 'http' ? 'http-json' : 'grpc', srv.hostPort, busy, '', steps);
      const r = await runLevel(makeTransport(p, srv.hostPort, 2), null, {
        mode: 'concurrency', value: 2, batchSize: 1, warmupMs: 50, measurementMs: 300, stabilityPct: 10, maxTrials: 1, steps: 1,
      });
      const key = protocol === 'http' ? 'http:503' : 'grpc:UNAVAILABLE';
      assert.deepEqual(Object.keys(r.totals.errors), [key]);
      assert.equal(r.totals.errors[key], r.totals.sent);
      assert.equal(r.totals.errors[key], srv.served.busy);
      assert.equal(r.totals.ok, 0);
      assert.ok(r.errorCount > 0 && r.errorCount <= r.totals.errors[key]);
      assert.equal(r.requests, 0);
    } finally {
      await srv.close();
    }
  });
}

test('an unreachable server fails the sweep up front with a clear message', async () => {
  const { runSweep } = await import('../loadgen/sweep.js');
  await assert.rejects(runSweep({
    url: '127.0.0.1:1', protocol: 'grpc', model: 'x', batchSize: 1, inputData: 'zero', mode: 'concurrency',
    values: [1], warmupMs: 0, measurementMs: 10, stabilityPct: 10, maxTrials: 1,
  }), /ECONNREFUSED/);
});

test('gRPC requests larger than the HTTP/2 windows wait for WINDOW_UPDATEs and all arrive', async () => {
  const srv = await grpcDelayServer(1);
  try {
    const big = { ...META, inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 100_000] }], maxBatchSize: 8 }; // 400 KB each
    const steps = buildInputSteps(big, { batchSize: 1, inputData: 'random' });
    const p = buildPayloads('grpc', srv.hostPort, big, '', steps);
    const r = await runLevel(makeTransport(p, srv.hostPort, 1), null, {
      mode: 'concurrency', value: 8, batchSize: 1, warmupMs: 50, measurementMs: 300, stabilityPct: 10, maxTrials: 1, steps: 1,
    });
    assert.deepEqual(r.totals.errors, {});
    assert.ok(r.totals.ok > 8);
    assert.equal(srv.served.delay, r.totals.ok);
  } finally {
    await srv.close();
  }
});
