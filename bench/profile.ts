/**
 * Where a request's server CPU goes: runs Osprey under `node --cpu-prof` (the main
 * thread and every worker thread get a profile), drives one scenario with wrk or
 * h2load, shuts the server down, and attributes every profile sample to a stage by
 * the innermost Osprey (or package) frame on its stack:
 *
 *   parse      codec decode (JSON/binary/gRPC request -> InferenceRequest)
 *   validate   request/prepare.ts (request against the model config)
 *   data plane dataplane.ts, registry (version resolve, stats), obs, routing
 *   batch      batching/ (queue), request/batch.ts and pending.ts (batch assembly and split)
 *   hand-off   executor/ and worker/channel.ts on the main thread (slot writes, wake-ups, completions)
 *   encode     codec encode (InferenceResponse -> JSON/binary/gRPC bytes)
 *   front end  frontends/ (routing, body reading, uWS/grpc-js glue, writing the answer)
 *   uWS / grpc-js   the packages' own JavaScript; node internals: streams/http2/net with no Osprey frame
 *   GC, (program)   V8
 *   worker: run  ONNX Runtime's run (InferenceSession.run and below); worker: hand-off  the worker's side of the channel
 *
 * Samples are `--interval-us` apart (200 us by default), only those taken while the load
 * ran count; the per-request figure is a stage's sampled time divided by the requests
 * the server counted (its statistics). A worker asleep in Atomics.wait (`waitFor`) is
 * left out; at concurrency 1 the same frame also holds its polling (hot hand-off).
 *
 *   npm run build && node dist/profile.js [--model tabular] [--wire http-json|http-binary|grpc]
 *     [--concurrency 64] [--duration 6] [--interval-us 200] [--out bench/results/tmp/profile.json]
 *     [--server osprey|floor|naive] [--rpc unary|stream]
 *
 * `--server floor` (the grpc-js / uWS echo server) or `naive` profiles a baseline the
 * same way, so that Osprey's main thread can be set beside the protocol's own cost:
 * their frames are charged to *baseline* (their handler), grpc-js / uWS, node internals,
 * GC, and for naive *ORT on the main thread*. A baseline keeps no statistics, so its
 * requests are the tool's rate times the whole window (warm-up included), and the main
 * thread is its only busy thread.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { arg } from './harness/args.js';
import { findTool, runH2load, runWrk } from './harness/external-tools.js';
import { freePort } from './harness/ports.js';
import { buildInputSteps } from './loadgen/input-data.js';
import { encodeInferRequest, GRPC_SERVICE, grpcFrame } from './loadgen/kserve-pb.js';
import { modelInfoHttp } from './loadgen/model-info.js';
import { binaryBody, inferPath, jsonBody } from './loadgen/payload.js';
import { httpStatsSource } from './loadgen/server-stats.js';
import { pidCpuUs } from './loadgen/cpu.js';
import { BENCH_ROOT, OSPREY_MAIN, OSPREY_REPOSITORY, benchScript } from './harness/paths.js';

const MODEL = arg('model', 'tabular');
const WIRE = arg('wire', 'http-json') as 'http-json' | 'http-binary' | 'grpc';
const CONCURRENCY = Number(arg('concurrency', '64'));
const DURATION_S = Number(arg('duration', '6'));
const INTERVAL_US = Number(arg('interval-us', '200'));
const OUT = arg('out', join(BENCH_ROOT, 'results/tmp/profile.json'));
const EXTRA = arg('server-args', '').split(' ').filter(Boolean);
// stream: ModelStreamInfer, CONCURRENCY messages in one stream at a time (the report's stream scenario).
const RPC = arg('rpc', 'unary') as 'unary' | 'stream';
if (!['unary', 'stream'].includes(RPC)) throw new Error(`--rpc: unary or stream, not '${RPC}'`);
const SERVER = arg('server', 'osprey') as 'osprey' | 'floor' | 'naive';
if (!['osprey', 'floor', 'naive'].includes(SERVER)) throw new Error(`--server: osprey, floor or naive, not '${SERVER}'`);

interface ProfileNode { id: number; callFrame: { functionName: string; url: string }; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/** Stage of one frame, or null when the frame says nothing (natives, node internals): look further up. */
function frameStage(url: string, fn: string, worker: boolean): string | null {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return '(program)';
  if (fn === '(idle)' || fn === '(root)') return '(idle)';
  // A worker blocked in Atomics.wait is sampled like one that computes: not CPU.
  if (worker && fn === 'waitFor') return '(idle)';
  if (url.includes('/onnxruntime-node/') || fn === 'run' && url === '') return worker ? 'worker: run (ONNX Runtime)' : 'ORT on the main thread';
  const src = /\/dist\/src\/([^/]+)\/([^/]+)\.js$/.exec(url);
  if (src) {
    const [, dir, file] = src;
    if (worker) return dir === 'worker' && file !== 'channel' && file !== 'channel-worker' ? 'worker: run (ONNX Runtime)' : 'worker: hand-off';
    if (dir === 'codec') {
      if (/^(json-write|http-response)$/.test(file!) || /^encode|Encode|write/.test(fn)) return 'encode';
      return 'parse';
    }
    if (dir === 'dataplane') return file === 'validate' ? 'validate' : 'data plane';
    // request/: prepare.ts validates; batch.ts assembles and splits batches, pending.ts is the queued request.
    if (dir === 'request') return file === 'prepare' ? 'validate' : 'batch';
    if (dir === 'registry' || dir === 'obs' || dir === 'routing' || dir === 'types' || dir === 'control' || dir === 'repository') return 'data plane';
    if (dir === 'batching') return 'batch';
    if (dir === 'executor' || dir === 'worker') return 'hand-off';
    if (dir === 'frontends') return 'front end';
    return dir!;
  }
  if (url.includes('/dist/baselines/')) return 'baseline';
  if (url.includes('/@grpc/grpc-js/')) return 'grpc-js';
  if (url.includes('/uWebSockets.js/') || url.includes('uws')) return 'uWS';
  if (url.includes('/node_modules/')) return 'other packages';
  return null;
}

/**
 * Stage totals (us) of the samples taken in [fromUs, toUs]. Profile timestamps are
 * V8 TimeTicks, CLOCK_MONOTONIC like process.hrtime in this process, so the window
 * of the load (start-up and model loading excluded) can be cut out exactly.
 */
function attribute(p: CpuProfile, worker: boolean, fromUs: number, toUs: number): Map<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOf = new Map<number, string>();
  const resolve = (id: number): string => {
    const known = stageOf.get(id);
    if (known !== undefined) return known;
    const n = byId.get(id)!;
    let s = frameStage(n.callFrame.url, n.callFrame.functionName, worker);
    if (s === null) {
      const up = parent.get(id);
      s = up === undefined ? (worker ? 'worker: other' : 'node internals') : resolve(up);
      if (s === '(idle)' || s === '(program)') s = worker ? 'worker: other' : 'node internals';
    }
    stageOf.set(id, s);
    return s;
  };
  const us = new Map<string, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const s = resolve(p.samples[i]!);
    us.set(s, (us.get(s) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  return us;
}

async function waitReady(http: number): Promise<void> {
  // The naive server has no per-model ready route: its metadata route answering means loaded.
  const path = SERVER === 'naive' ? `/v2/models/${MODEL}` : `/v2/models/${MODEL}/ready`;
  for (let i = 0; i < 600; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${http}${path}`);
      if (r.status === 200) return;
    } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error('server not ready');
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'osprey-prof-'));
  const [http, grpc] = [await freePort(), await freePort()];
  const serverArgs = SERVER === 'osprey'
    ? [OSPREY_MAIN, '--model-repository', OSPREY_REPOSITORY,
      '--model-control-mode', 'explicit', '--load-model', MODEL, '--http-port', String(http), '--grpc-port', String(grpc),
      '--allow-metrics', 'false', '--log-info', 'false', '--http-address', '127.0.0.1', '--grpc-address', '127.0.0.1', ...EXTRA]
    : [benchScript(SERVER === 'floor' ? 'baselines/echo-server' : 'baselines/naive-server'), '--model-repository', OSPREY_REPOSITORY,
      '--models', MODEL, '--http-port', String(http), '--grpc-port', String(grpc), ...EXTRA];
  const server = spawn(process.execPath, [
    '--cpu-prof', '--cpu-prof-dir', dir, `--cpu-prof-interval`, String(INTERVAL_US), ...serverArgs,
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((r) => server.once('exit', () => r()));
  await waitReady(http);
  const host = `127.0.0.1:${http}`;
  const info = await modelInfoHttp(host, MODEL);
  const [step] = buildInputSteps(info, { batchSize: 1, inputData: 'random' });
  const stats = SERVER === 'osprey' ? httpStatsSource(host, MODEL) : async () => undefined;
  const before = await stats();
  const load0 = loadavg()[0]!;
  const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
  // h2load's warm-up second is excluded from its count but not from the window: the
  // server's own count (statistics) over the whole run is what the profile covers.
  const fromUs = nowUs();
  const mainCpu0 = pidCpuUs(server.pid!, server.pid!);
  let tool;
  if (WIRE === 'grpc') {
    const bin = findTool('h2load');
    if (!bin) throw new Error('h2load not installed');
    const one = grpcFrame(encodeInferRequest(MODEL, '', step!));
    const stream = RPC === 'stream';
    tool = await runH2load(bin, {
      hostPort: `127.0.0.1:${grpc}`, path: `${GRPC_SERVICE}${stream ? 'ModelStreamInfer' : 'ModelInfer'}`,
      frame: stream ? Buffer.concat(new Array<Buffer>(CONCURRENCY).fill(one)) : one,
      connections: 1, streams: stream ? 1 : CONCURRENCY, durationS: DURATION_S, warmupS: 1,
    }, server.pid!);
  } else {
    const bin = findTool('wrk');
    if (!bin) throw new Error('wrk not installed');
    const b = WIRE === 'http-json' ? { body: jsonBody(step!), headers: { 'Content-Type': 'application/json' } } : (() => {
      const x = binaryBody(step!, info.outputs.map((o) => o.name));
      return { body: x.body, headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(x.headerLength) } };
    })();
    tool = await runWrk(bin, { hostPort: host, path: inferPath(MODEL, ''), ...b, connections: CONCURRENCY, durationS: DURATION_S }, server.pid!);
  }
  const toUs = nowUs();
  const mainCpu1 = pidCpuUs(server.pid!, server.pid!);
  const after = await stats();
  const requests = SERVER === 'osprey'
    ? (after?.success.count ?? 0) - (before?.success.count ?? 0)
    : Math.round(tool.requestsPerSec * (toUs - fromUs) / 1e6);
  const runs = (after?.executionCount ?? 0) - (before?.executionCount ?? 0);
  const avgBatch = runs > 0 ? Number((((after?.inferenceCount ?? 0) - (before?.inferenceCount ?? 0)) / runs).toFixed(2)) : null;
  server.kill('SIGTERM');
  await exited;

  // CPU.<date>.<time>.<pid>.<threadId>.<seq>.cpuprofile: thread 0 is the main thread.
  let mainScale = 1;
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const stages = new Map<string, number>();
  for (const f of files) {
    const tid = Number(f.split('.')[4]);
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile;
    const mine = attribute(p, tid !== 0, fromUs, toUs);
    // Samples are wall-clock ticks of a running thread: on an oversubscribed machine a
    // thread that lost its core keeps being charged. The main thread's true CPU time
    // (/proc/<pid>/task/<pid>) scales its stages back to CPU.
    let scale = 1;
    if (tid === 0 && mainCpu0 !== null && mainCpu1 !== null) {
      let sampled = 0;
      for (const [s, us] of mine) if (s !== '(idle)') sampled += us;
      if (sampled > 0) scale = (mainCpu1 - mainCpu0) / sampled;
      mainScale = scale;
    }
    for (const [s, us] of mine) stages.set(s, (stages.get(s) ?? 0) + us * scale);
  }
  const rows = [...stages].filter(([s]) => s !== '(idle)').sort((a, b) => b[1] - a[1])
    .map(([stage, us]) => ({ stage, usPerRequest: Number((us / Math.max(1, requests)).toFixed(2)) }));
  const main = rows.filter((r) => !r.stage.startsWith('worker')).reduce((a, r) => a + r.usPerRequest, 0);
  const work = rows.filter((r) => r.stage.startsWith('worker')).reduce((a, r) => a + r.usPerRequest, 0);
  console.log(`${SERVER} ${MODEL} ${WIRE} c=${CONCURRENCY}, ${DURATION_S} s: ${tool.requestsPerSec} req/s (${requests} ${SERVER === 'osprey' ? 'counted by the server' : 'from the tool\'s rate'}, average batch ${avgBatch}), ` +
    `server CPU ${tool.serverCpuPct}%, other programs ${tool.otherCpuPct}%, loadavg ${load0.toFixed(2)} -> ${loadavg()[0]!.toFixed(2)}`);
  console.log(`main thread: sampled time scaled by ${mainScale.toFixed(2)} to its /proc CPU time; worker stages are sampled time (not scaled)`);
  console.log('| stage | us per request |\n|---|---:|');
  for (const r of rows) console.log(`| ${r.stage} | ${r.usPerRequest} |`);
  console.log(`| **main thread total** | ${main.toFixed(1)} |\n| **worker threads total** | ${work.toFixed(1)} |`);
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify({
    date: new Date().toISOString(), node: process.version, cpus: cpus().length, server: SERVER, model: MODEL, wire: WIRE, concurrency: CONCURRENCY,
    durationS: DURATION_S, requests, avgBatch, mainScale, requestsPerSec: tool.requestsPerSec, serverCpuPct: tool.serverCpuPct, otherCpuPct: tool.otherCpuPct,
    loadavg: [load0, loadavg()[0]], stages: rows, mainUsPerRequest: main, workerUsPerRequest: work, profiles: dir,
  }, null, 1)}\n`);
}

await main();
