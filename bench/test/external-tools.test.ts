/**
 * The independent generators' output parsers (bench/harness/external-tools.ts), on
 * output captured from wrk 4.1.0 and h2load 1.52.0, and, where the tools are
 * installed, a short live run of each against the echo baseline.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findTool, parseH2load, parseWrk, runH2load, runWrk } from '../harness/external-tools.js';
import { encodeInferRequest, GRPC_SERVICE, grpcFrame } from '../loadgen/kserve-pb.js';
import { spawnServer } from '../harness/server-process.js';
import { freePort } from '../harness/ports.js';
import { loadUws } from '../baselines/uws-native.js';
import { OSPREY_REPOSITORY, benchScript } from '../harness/paths.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const WRK_OUT = `Running 1s test @ http://127.0.0.1:18090/v2/models/tabular/infer
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.22ms    2.49ms  19.77ms   88.72%
    Req/Sec    15.92k     6.45k   27.93k    70.00%
  Latency Distribution
     50%  125.00us
     75%    1.06ms
     90%    4.13ms
     99%   12.09ms
  15881 requests in 1.02s, 3.67MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  15636.98
Transfer/sec:      3.61MB
`;

const H2LOAD_OUT = `finished in 3.06s, 1269.50 req/s, 93.72KB/s
requests: 2539 total, 2539 started, 2539 done, 2530 succeeded, 6 failed, 2 errored, 1 timeout
status codes: 2518 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 187.45KB (191944) total, 16.20KB (16589) headers (space savings 96.37%), 134.78KB (138012) data
                     min         max         mean         sd        +/- sd
time for request:     4.60ms    219.95ms     53.79ms     44.47ms    66.40%
`;

test('wrk output: rate, percentiles in ms whatever the unit, errors of every kind', () => {
  assert.deepEqual(parseWrk(WRK_OUT), {
    requestsPerSec: 15637, p50Ms: 0.125, p90Ms: 4.13, p99Ms: 12.09, meanMs: 1.22, errors: 7 + 2 + 1,
  });
  assert.throws(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused\n'), /no Requests\/sec/);
});

test('h2load output: rate, mean, failed + errored + timeout streams', () => {
  assert.deepEqual(parseH2load(H2LOAD_OUT), {
    requestsPerSec: 1270, p50Ms: null, p90Ms: null, p99Ms: null, meanMs: 53.79, errors: 9,
  });
  assert.throws(() => parseH2load('No protocol negotiated\n'), /no summary/);
});

const wrk = findTool('wrk');
const h2load = findTool('h2load');

// The echo floor is uWebSockets.js by definition (bench/baselines/echo-http.ts): where no
// native build loads (Node 22+ on glibc < 2.38) there is no floor to measure.
const uws = loadUws();
const liveSkip = !wrk || !h2load ? 'wrk or h2load not installed'
  : !('uws' in uws) ? `no native uWebSockets.js for the echo baseline: ${uws.reasons.join('; ')}` : false;

test('live: wrk and h2load against the echo baseline answer with no errors', { skip: liveSkip }, async () => {
  const [http, grpc] = [await freePort(), await freePort()];
  const p = spawnServer(process.execPath, [benchScript('baselines/echo-server'), '--model-repository', OSPREY_REPOSITORY,
    '--models', 'tabular', '--http-port', String(http), '--grpc-port', String(grpc)], join(tmpdir(), 'osprey-echo-tools-test.log'));
  try {
    for (let i = 0; i < 100 && (await fetch(`http://127.0.0.1:${http}/v2/health/ready`).catch(() => null))?.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'features', shape: [1, 64], datatype: 'FP32', data: new Array(64).fill(0) }] }));
    const w = await runWrk(wrk!, { hostPort: `127.0.0.1:${http}`, path: '/v2/models/tabular/infer', body, headers: { 'Content-Type': 'application/json' }, connections: 2, durationS: 1 }, p.pid);
    assert.ok(w.requestsPerSec > 0 && w.errors === 0, JSON.stringify(w));
    assert.ok(w.serverCpuPct !== null && w.serverCpuPct > 0);
    // A wrong model is answered 400 by the echo server: wrk must count those.
    const bad = await runWrk(wrk!, { hostPort: `127.0.0.1:${http}`, path: '/v2/models/nope/infer', body, headers: {}, connections: 1, durationS: 1 }, p.pid);
    assert.ok(bad.errors > 0);
    const frame = grpcFrame(encodeInferRequest('tabular', '', [{ name: 'features', datatype: 'FP32', shape: [1, 64], raw: new Uint8Array(256) }]));
    const h = await runH2load(h2load!, { hostPort: `127.0.0.1:${grpc}`, path: `${GRPC_SERVICE}ModelInfer`, frame, connections: 1, streams: 4, durationS: 1, warmupS: 0 }, p.pid);
    assert.ok(h.requestsPerSec > 0, JSON.stringify(h));
  } finally {
    await p.stop();
  }
});

test('live: a wrk run with warmupS first runs the same load unmeasured', { skip: wrk ? false : 'wrk not installed' }, async () => {
  // A plain node:http server in this process counts every request it answers.
  let served = 0;
  const srv = createServer((req, res) => {
    req.resume();
    req.on('end', () => { served++; res.end('{}'); });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const { port } = srv.address() as AddressInfo;
    const load = { hostPort: `127.0.0.1:${port}`, path: '/', body: Buffer.from('{}'), headers: {}, connections: 2, durationS: 1 };
    const w = await runWrk(wrk!, { ...load, warmupS: 1 }, process.pid);
    assert.equal(w.errors, 0);
    // wrk's own count covers the measured second only; the server also answered the warm-up's.
    const measured = w.requestsPerSec * load.durationS;
    assert.ok(served > measured * 1.5, `served ${served}, measured ${measured} (warm-up not run?)`);
    served = 0;
    const cold = await runWrk(wrk!, load, process.pid);
    assert.ok(served < cold.requestsPerSec * load.durationS * 1.3, `served ${served}, measured ${cold.requestsPerSec} (no warm-up asked for)`);
  } finally {
    srv.close();
  }
});
