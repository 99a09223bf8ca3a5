/**
 * The generator against servers that delay every response by a known 20 ms: the
 * reported p50 must be that delay (within timer and loopback slack), in closed and
 * open loop, over HTTP and gRPC, and its counts must match what the server served.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runSweep, type SweepOptions } from '../loadgen/sweep.js';
import { grpcDelayServer, httpDelayServer, type DelayServer } from './delay-servers.js';

const DELAY_MS = 20;
// libuv schedules a timer from the loop's cached millisecond clock, which lags real time by
// the truncated fraction plus the time the current callback has already run, so a 20 ms
// setTimeout can end up to ~1 ms early as the client measures it (Node 24 CI: min 19470 us);
// loopback plus a busy 2-core machine can add a few ms.
const P50_MIN_US = DELAY_MS * 1000 - 1500;
const P50_MAX_US = (DELAY_MS + 12) * 1000;

let httpSrv: DelayServer;
let grpcSrv: DelayServer;
before(async () => {
  httpSrv = await httpDelayServer(DELAY_MS);
  grpcSrv = await grpcDelayServer(DELAY_MS);
});
after(async () => {
  await httpSrv.close();
  await grpcSrv.close();
});

const base = (srv: DelayServer, protocol: 'http' | 'grpc'): SweepOptions => ({
  url: srv.hostPort, protocol, model: 'delay', batchSize: 1, inputData: 'random',
  mode: 'concurrency', values: [4], warmupMs: 100, measurementMs: 400, stabilityPct: 10, maxTrials: 1,
});

for (const protocol of ['http', 'grpc'] as const) {
  test(`closed loop over ${protocol}: p50 is the server's delay and counts match the server`, async () => {
    const srv = protocol === 'http' ? httpSrv : grpcSrv;
    const servedBefore = srv.served.delay ?? 0;
    const { levels: [r] } = await runSweep(base(srv, protocol));
    assert.ok(r.latencyUs.p50 >= P50_MIN_US && r.latencyUs.p50 <= P50_MAX_US, `p50 ${r.latencyUs.p50} us`);
    assert.ok(r.latencyUs.min >= P50_MIN_US, `min ${r.latencyUs.min} us`);
    assert.equal(r.errorCount, 0);
    // Every request sent was answered and counted once, on both sides (the probe is the +1).
    assert.equal(r.totals.sent, r.totals.ok);
    assert.equal((srv.served.delay ?? 0) - servedBefore, r.totals.ok + 1);
    assert.ok(r.requests <= r.totals.ok);
    // Four outstanding requests of ~20 ms each: at most 200 req/s, and not far below.
    assert.ok(r.requestsPerSec <= 4000 / DELAY_MS * 1.02 && r.requestsPerSec > 4000 / P50_MAX_US * 1000 * 0.8, `${r.requestsPerSec} req/s`);
  });

  test(`open loop over ${protocol}: latency from the schedule, rate held`, async () => {
    const srv = protocol === 'http' ? httpSrv : grpcSrv;
    const { levels: [r] } = await runSweep({ ...base(srv, protocol), mode: 'rate', values: [100], measurementMs: 800, poisson: protocol === 'grpc' });
    assert.ok(r.latencyUs.p50 >= P50_MIN_US && r.latencyUs.p50 <= P50_MAX_US, `p50 ${r.latencyUs.p50} us`);
    assert.equal(r.errorCount, 0);
    assert.equal(r.totals.sent, r.totals.ok);
    // Constant: exactly the rate, give or take one timer tick; Poisson: the mean over ~80 arrivals.
    const tol = protocol === 'grpc' ? 0.35 : 0.1;
    assert.ok(Math.abs(r.requestsPerSec - 100) <= 100 * tol, `${r.requestsPerSec} req/s`);
  });
}

test('a stalled server shows up as open-loop latency, not as a slower client', async () => {
  // 10 req/s against a 20 ms server with 1 connection is fine; 200 req/s over HTTP/1.1 with
  // 2 connections cannot be (at most 100 req/s): the queue forms in the client and counts.
  const { levels: [r] } = await runSweep({
    ...base(httpSrv, 'http'), mode: 'rate', values: [200], connections: 2, warmupMs: 0, measurementMs: 500,
  });
  assert.ok(r.latencyUs.p99 > 5 * DELAY_MS * 1000, `p99 ${r.latencyUs.p99} us should include client-side queueing`);
});
