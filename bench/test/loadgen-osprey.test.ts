/**
 * The generator against a real Osprey (a child process on free ports, serving the
 * bundled repository): its request count and error tally must equal the server's
 * statistics delta, and its latency must contain the server's own time.
 * Needs the `osprey` package built (`npm ci` at the repository root builds it).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { OSPREY_REPOSITORY } from '../harness/paths.js';
import { startTarget, type RunningTarget } from '../harness/targets.js';
import { runSweep, type SweepOptions } from '../loadgen/sweep.js';


let osprey: RunningTarget | undefined;
let logDir = '';
before(async () => {
  logDir = mkdtempSync(join(os.tmpdir(), 'bench-test-'));
  osprey = await startTarget('osprey', {
    repo: OSPREY_REPOSITORY, noBatchRepo: '', models: ['tabular', 'cnn'], logDir, readyTimeoutMs: 20_000,
  });
});
after(async () => {
  await osprey?.stop();
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

const opts = (protocol: 'http' | 'grpc', model: string, concurrency: number): SweepOptions => ({
  url: protocol === 'grpc' ? osprey!.grpc! : osprey!.http, protocol, model, batchSize: 1, inputData: 'random',
  mode: 'concurrency', values: [concurrency], warmupMs: 150, measurementMs: 400, stabilityPct: 10, maxTrials: 1,
});

for (const [protocol, model, c, binary] of [['http', 'tabular', 4, false], ['http', 'cnn', 4, true], ['grpc', 'tabular', 8, false], ['grpc', 'cnn', 8, false]] as const) {
  test(`${protocol}${binary ? ' binary' : ''} ${model}: counts and latency agree with Osprey's statistics`, async () => {
    const { levels: [r] } = await runSweep({ ...opts(protocol, model, c), binary });
    const t = r.totals;
    assert.ok(t.server, 'Osprey serves the statistics extension');
    assert.deepEqual(t.errors, {});
    assert.equal(t.sent, t.ok);
    // Over the whole level (warm-up included, drained at the end) the counts are exact.
    assert.equal(t.server.success, t.ok);
    assert.equal(t.server.fail, 0);
    assert.equal(t.server.inferenceCount, t.ok);
    assert.ok(t.server.executionCount >= 1 && t.server.executionCount <= t.server.inferenceCount);
    // Windows are cut a few requests apart on the two sides: close, not exact. Each
    // edge is a statistics call on another connection, and the requests in flight plus
    // those answered while it travels (a few ms at several thousand req/s) land on
    // either side of it.
    const slack = c + 2 + Math.ceil(r.requests * 0.02);
    assert.ok(r.server && Math.abs(r.server.success - r.requests) <= slack, `window: server ${r.server?.success}, client ${r.requests}`);
    // The client's latency contains the server's time for the same requests.
    assert.ok(r.latencyUs.avg >= r.server.requestUs * 0.9, `client avg ${r.latencyUs.avg} us < server ${r.server.requestUs} us`);
    assert.ok(r.latencyUs.avg >= r.server.queueUs + r.server.computeInferUs, 'client avg covers queue + infer');
    const l = r.latencyUs;
    assert.ok(l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max);
  });
}
