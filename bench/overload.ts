/**
 * Overload (issue 16, item 9): a model with `max_queue_size`, offered 6x the load it
 * can serve. Measured in one run per HTTP engine, against a server child process:
 *
 *   1. capacity: closed loop at --concurrency for --seconds: successful infer/s;
 *   2. overload: open loop at --factor x capacity for --seconds: how fast the 503s
 *      come back (p50/p99) and how much of the capacity is still served (goodput).
 *
 * The model is the bundled cnn (one instance, batches up to 32, queue of --queue),
 * each request --rows images as binary tensor data (12 KiB a row). Targets: 503 p50
 * <= 5 ms, goodput >= 90% of capacity.
 *
 *   node dist/overload.js   (in bench/, after npm run build) [--engines uws,node] [--seconds 6] [--factor 6]
 *     [--rows 4] [--queue 16] [--concurrency 24] [--out results/overload.json]
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { performance as perf } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { BENCH_ROOT, OSPREY_MAIN, OSPREY_REPOSITORY } from './harness/paths.js';
import { freePort } from './harness/ports.js';
import { spawnServer, waitReady } from './harness/server-process.js';
import { pidCpuUs } from './loadgen/cpu.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const ENGINES = arg('engines', 'uws,node').split(',');
const SECONDS = Number(arg('seconds', '6'));
const FACTOR = Number(arg('factor', '6'));
const ROWS = Number(arg('rows', '4'));
const QUEUE = Number(arg('queue', '16'));
// Up to 8 requests of 4 rows run in a batch of 32 and 16 wait: 24 in flight never meet a full queue.
const CONCURRENCY = Number(arg('concurrency', '24'));
const OUT = arg('out', join(BENCH_ROOT, 'results', 'overload.json'));

const CONFIG = `name: "cnn_q"
platform: "onnxruntime_onnx"
max_batch_size: 32
input [ { name: "image" data_type: TYPE_FP32 dims: [ 3, 32, 32 ] } ]
output [ { name: "logits" data_type: TYPE_FP32 dims: [ 10 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
dynamic_batching { default_queue_policy { max_queue_size: ${QUEUE} } }
`;

/** One request body (binary tensor data extension) and its headers, built once. */
function requestBody(): { body: Buffer; headers: Record<string, string> } {
  const raw = Buffer.from(new Float32Array(ROWS * 3 * 32 * 32).fill(0.5).buffer);
  const json = Buffer.from(JSON.stringify({
    inputs: [{ name: 'image', datatype: 'FP32', shape: [ROWS, 3, 32, 32], parameters: { binary_data_size: raw.length } }],
    outputs: [{ name: 'logits', parameters: { binary_data: true } }],
  }));
  return {
    body: Buffer.concat([json, raw]),
    headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(json.length) },
  };
}

interface Sample { status: number; ms: number }

function send(agent: http.Agent, port: number, req: { body: Buffer; headers: Record<string, string> }): Promise<Sample> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const r = http.request({
      host: '127.0.0.1', port, method: 'POST', path: '/v2/models/cnn_q/infer', agent,
      headers: { ...req.headers, 'Content-Length': String(req.body.length) },
    }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      res.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
    });
    r.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
    r.end(req.body);
  });
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;

function summarize(samples: Sample[], seconds: number): Record<string, number> {
  const ok = samples.filter((s) => s.status === 200).map((s) => s.ms).sort((a, b) => a - b);
  const refused = samples.filter((s) => s.status === 503).map((s) => s.ms).sort((a, b) => a - b);
  return {
    sent: samples.length,
    ok: ok.length,
    refused_503: refused.length,
    other: samples.length - ok.length - refused.length,
    goodput_per_s: round(ok.length / seconds, 1),
    ok_p50_ms: round(quantile(ok, 0.5)), ok_p99_ms: round(quantile(ok, 0.99)),
    refused_p50_ms: round(quantile(refused, 0.5)), refused_p99_ms: round(quantile(refused, 0.99)),
  };
}

/** Closed loop: `concurrency` requests always in flight; only what finishes inside the window counts. */
async function closedLoop(port: number, req: ReturnType<typeof requestBody>, seconds: number): Promise<Sample[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const end = performance.now() + seconds * 1000;
  const samples: Sample[] = [];
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < end) {
      const s = await send(agent, port, req);
      if (performance.now() <= end) samples.push(s);
    }
  }));
  agent.destroy();
  return samples;
}

/** Open loop: `rate` requests a second, sent on schedule whatever comes back. */
async function openLoop(port: number, req: ReturnType<typeof requestBody>, rate: number, seconds: number): Promise<Sample[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
  const pending: Array<Promise<Sample>> = [];
  const t0 = performance.now();
  const total = Math.round(rate * seconds);
  await new Promise<void>((done) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
      while (pending.length < due) pending.push(send(agent, port, req));
      if (pending.length >= total) done();
      else setTimeout(tick, 1);
    };
    tick();
  });
  const samples = await Promise.all(pending);
  agent.destroy();
  return samples;
}

async function runEngine(engine: string, repo: string): Promise<Record<string, unknown>> {
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const server = spawnServer(process.execPath, [
    OSPREY_MAIN, '--model-repository', repo, '--http-engine', engine,
    '--http-port', String(httpPort), '--grpc-port', String(grpcPort), '--allow-metrics', 'false',
    '--http-address', '127.0.0.1', '--grpc-address', '127.0.0.1', '--log-format', 'json',
  ], join(BENCH_ROOT, 'results', 'tmp', `overload-${engine}.server.log`));
  try {
    await waitReady(server, `127.0.0.1:${httpPort}`, ['/v2/models/cnn_q/ready'], 120_000);
    const req = requestBody();
    await closedLoop(httpPort, req, 1); // warm-up
    const cpu0 = pidCpuUs(server.pid) ?? 0;
    const cap = closedLoop(httpPort, req, SECONDS);
    const capacity = summarize(await cap, SECONDS);
    const capCpuUs = (pidCpuUs(server.pid) ?? 0) - cpu0;
    const rate = capacity.goodput_per_s! * FACTOR;
    const load0 = loadavg()[0]!;
    const cpu1 = pidCpuUs(server.pid) ?? 0;
    const elu0 = perf.eventLoopUtilization();
    const over = summarize(await openLoop(httpPort, req, rate, SECONDS), SECONDS);
    // Near 1: the generator itself was the bottleneck, and the latencies are its too.
    const clientElu = perf.eventLoopUtilization(elu0).utilization;
    const overCpuUs = (pidCpuUs(server.pid) ?? 0) - cpu1;
    const result = {
      engine,
      capacity: { ...capacity, concurrency: CONCURRENCY, server_cpu_pct: round(capCpuUs / (SECONDS * 1e4), 0) },
      overload: { ...over, offered_per_s: round(rate, 1), server_cpu_pct: round(overCpuUs / (SECONDS * 1e4), 0), client_event_loop_utilization: round(clientElu, 2) },
      goodput_vs_capacity: round(over.goodput_per_s! / capacity.goodput_per_s!, 3),
      load_avg_1m: round(load0, 2),
    };
    console.log(JSON.stringify(result));
    return result;
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const repo = mkdtempSync(join(tmpdir(), 'osprey-overload-'));
  cpSync(join(OSPREY_REPOSITORY, 'cnn', '1'), join(repo, 'cnn_q', '1'), { recursive: true });
  writeFileSync(join(repo, 'cnn_q', 'config.pbtxt'), CONFIG);
  try {
    const runs = [];
    for (const engine of ENGINES) runs.push(await runEngine(engine, repo));
    const out = {
      bench: 'overload', date: new Date().toISOString(), node: process.version,
      settings: { seconds: SECONDS, factor: FACTOR, rows: ROWS, max_queue_size: QUEUE, concurrency: CONCURRENCY, model: 'cnn (1 instance, max_batch_size 32)' },
      targets: { refused_p50_ms: 5, goodput_vs_capacity: 0.9 },
      runs,
    };
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, JSON.stringify(out, null, 2) + '\n');
    console.log(`wrote ${OUT}`);
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
}

await main();
