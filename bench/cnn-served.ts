/**
 * How close Osprey serves the cnn to the in-process ONNX Runtime ceiling, and where the
 * rest goes: #15's "cnn over gRPC and HTTP binary >= 0.85x the ceiling", alone.
 *
 * One Osprey (the shipped repository, or `--model-repository`, with `--server-args`),
 * then `--rounds` rounds of: a ceiling sample (its own process, while the server
 * idles), wrk with binary tensors at `--concurrency` connections, h2load with one
 * connection and `--concurrency` streams (the same scenarios as report.ts's
 * cnn-http-binary-c32 / cnn-grpc-m32). Per run it prints the ratio to the ceiling
 * sampled just before it, and what the server's statistics and /proc say about where
 * the CPU went: the batch the server actually ran, the worker's run time per row, the
 * main thread's and the busiest other threads' CPU. The summary gives medians.
 *
 *   npm run build && node dist/cnn-served.js [--rounds 3] [--duration 4] [--concurrency 32]
 *     [--wires http-binary,grpc] [--model cnn] [--ceiling-ms 1000] [--ceiling-batches 1,4,8,16,32]
 *     [--model-repository DIR] [--server-args "..."] [--warmup 1] [--out results/tmp/cnn-served.json]
 *     [--main PATH/dist/src/main.js] [--b-server-args "..."] [--b-model-repository DIR] [--b-main PATH/dist/src/main.js]
 *
 * `--main` starts another build's command (e.g. a copy of a baseline's dist/) instead of
 * the installed `osprey` package's. With any `--b-*` option it is an interleaved A/B: a
 * second server B (its own flags, repository or build) runs beside A, and each round measures both on each wire against
 * the same ceiling sample, the order flipping every round; the summary adds, per wire,
 * B's median over A's and in how many rounds B was higher.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { arg } from './harness/args.js';
import type { CeilingResult } from './baselines/ort-ceiling.js';
import { ceilingInChild } from './harness/ceiling-run.js';
import { findTool, runH2load, runWrk, type ToolResult } from './harness/external-tools.js';
import { BENCH_ROOT, OSPREY_REPOSITORY } from './harness/paths.js';
import { startTarget, type RunningTarget } from './harness/targets.js';
import { pidCpuUs } from './loadgen/cpu.js';
import { buildInputSteps } from './loadgen/input-data.js';
import { encodeInferRequest, GRPC_SERVICE, grpcFrame } from './loadgen/kserve-pb.js';
import { modelInfoHttp } from './loadgen/model-info.js';
import { binaryBody, inferPath } from './loadgen/payload.js';
import { httpCall } from './loadgen/http-get.js';
import { httpStatsSource, statsDelta, type ServerSplit, type StatsSource } from './loadgen/server-stats.js';
import { median } from './harness/median.js';

const MODEL = arg('model', 'cnn');
const ROUNDS = Number(arg('rounds', '3'));
const DURATION_S = Number(arg('duration', '4'));
const CONCURRENCY = Number(arg('concurrency', '32'));
const WIRES = arg('wires', 'http-binary,grpc').split(',') as ('http-binary' | 'grpc')[];
const CEILING_MS = Number(arg('ceiling-ms', '1000'));
const CEILING_BATCHES = arg('ceiling-batches', '1,4,8,16,32').split(',').map(Number);
const REPO = arg('model-repository', OSPREY_REPOSITORY);
const SERVER_ARGS = arg('server-args', '').split(' ').filter(Boolean);
const INSTANCES = Number(arg('instances', '2'));
/**
 * Seconds of the same load, unmeasured, before each measured run, on both wires (as
 * report.ts does): h2load always had it; wrk had none here until session 10, so each
 * HTTP run measured a server cold from the ceiling sample and its own connection setup.
 */
const WARMUP_S = Number(arg('warmup', '1'));
const A_MAIN = arg('main', '');
const B_ARGS = arg('b-server-args', '');
const B_REPO = arg('b-model-repository', '');
const B_MAIN = arg('b-main', '');
const AB = B_ARGS !== '' || B_REPO !== '' || B_MAIN !== '';
const OUT = arg('out', join(BENCH_ROOT, 'results/tmp/cnn-served.json'));

/** CPU microseconds of each thread of a process, by thread id. */
function threadCpu(pid: number): Map<number, number> {
  const m = new Map<number, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const us = pidCpuUs(pid, Number(t));
    if (us !== null) m.set(Number(t), us);
  }
  return m;
}

/** Executions by batch size (Triton's batch_stats): count and summed run (compute infer) ns. */
type Batches = Map<number, { count: number; inferNs: number }>;

async function batchStats(hostPort: string, model: string): Promise<Batches> {
  const r = await httpCall(hostPort, 'GET', `/v2/models/${model}/stats`);
  const doc = JSON.parse(r.body.toString()) as { model_stats: { batch_stats?: { batch_size: number; compute_infer: { count: number; ns: number } }[] }[] };
  const m: Batches = new Map();
  for (const s of doc.model_stats) for (const b of s.batch_stats ?? []) {
    const e = m.get(b.batch_size) ?? { count: 0, inferNs: 0 };
    e.count += Number(b.compute_infer.count);
    e.inferNs += Number(b.compute_infer.ns);
    m.set(b.batch_size, e);
  }
  return m;
}

/** What ran between two readings: executions, rows, summed run time, and the batch sizes by share of rows. */
function batchDelta(a: Batches, b: Batches): { executions: number; rows: number; inferNs: number; histogram: string } {
  let executions = 0;
  let rows = 0;
  let inferNs = 0;
  const per: [number, number][] = [];
  for (const [size, e] of b) {
    const n = e.count - (a.get(size)?.count ?? 0);
    if (n <= 0) continue;
    executions += n;
    rows += n * size;
    inferNs += e.inferNs - (a.get(size)?.inferNs ?? 0);
    per.push([size, n * size]);
  }
  per.sort((x, y) => x[0] - y[0]);
  const histogram = per.filter(([, r]) => r / rows >= 0.03).map(([s, r]) => `${s}:${Math.round((r / rows) * 100)}%`).join(' ');
  return { executions, rows, inferNs, histogram };
}

/** Context switches of a thread so far (/proc): voluntary (it slept) and involuntary (it was preempted). */
function switches(pid: number, tid: number): { vol: number; invol: number } {
  try {
    const st = readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1');
    return { vol: Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(st)?.[1] ?? NaN), invol: Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(st)?.[1] ?? NaN) };
  } catch {
    return { vol: NaN, invol: NaN };
  }
}

interface Run {
  /** A, or B in an A/B. */
  server: string;
  wire: string;
  round: number;
  rowsPerSec: number;
  ceiling: number;
  ratio: number;
  serverCpuPct: number | null;
  toolCpuPct: number | null;
  otherCpuPct: number | null;
  loadavg1: number;
  /** The main thread's CPU %, and the busiest other threads' (ONNX Runtime workers), over the run. */
  mainCpuPct: number;
  topThreadsCpuPct: number[];
  split: ServerSplit | null;
  /** Rows per execution, and the worker's run time (wall) per row, from the batch statistics. */
  avgBatch: number;
  inferUsPerRow: number;
  /** Share of rows by batch size (sizes holding >= 3% of the rows). */
  batchHistogram: string;
  /** Wall time the instances spent in runs, as a share of (instances x run time); `--instances` (default 2). */
  instanceBusyPct: number;
  /** The ceiling's ONNX Runtime threads' CPU per row (its best batch). */
  ceilingCpuUsPerRow: number | null;
  /** The server's busiest threads but the main one (`--instances` of them: the instances) CPU per row. */
  workerCpuUsPerRow: number;
  /** Server CPU per row, microseconds. */
  serverUsPerRow: number | null;
  /** Per row: times the main thread slept and woke, and times the instances' threads were preempted. */
  mainWakesPerRow: number;
  workerPreemptionsPerRow: number;
}

/** One server under test: its process, and how to load it on each wire. */
interface Served {
  name: string;
  t: RunningTarget;
  load: Record<string, (() => Promise<ToolResult>) | null>;
  stats: StatsSource;
}

async function serve(name: string, repo: string, args: string[], main: string | undefined, logDir: string): Promise<Served> {
  const wrk = findTool('wrk');
  const h2load = findTool('h2load');
  const t = await startTarget('osprey', { repo, noBatchRepo: repo, models: [MODEL], logDir, readyTimeoutMs: 60_000 }, { args, name, main });
  const info = await modelInfoHttp(t.http, MODEL);
  const [step] = buildInputSteps(info, { batchSize: 1, inputData: 'random' });
  const bin = binaryBody(step!, info.outputs.map((o) => o.name));
  const frame = grpcFrame(encodeInferRequest(MODEL, '', step!));
  const load: Served['load'] = {
    'http-binary': wrk ? () => runWrk(wrk, {
      hostPort: t.http, path: inferPath(MODEL, ''), body: bin.body, connections: CONCURRENCY, durationS: DURATION_S, warmupS: WARMUP_S,
      headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(bin.headerLength) },
    }, t.pid) : null,
    grpc: h2load ? () => runH2load(h2load, {
      hostPort: t.grpc!, path: `${GRPC_SERVICE}ModelInfer`, frame, connections: 1, streams: CONCURRENCY, durationS: DURATION_S, warmupS: WARMUP_S,
    }, t.pid) : null,
  };
  return { name, t, load, stats: httpStatsSource(t.http, MODEL) };
}

/** Load one server on one wire for DURATION_S and read where its CPU went. */
async function measure(s: Served, wire: 'http-binary' | 'grpc', round: number, c: CeilingResult): Promise<Run> {
  const { t } = s;
  const go = s.load[wire];
  if (!go) throw new Error(`${wire === 'grpc' ? 'h2load' : 'wrk'} is not installed`);
  const ceiling = c.best.rowsPerSec;
  const before = await s.stats();
  const b0 = await batchStats(t.http, MODEL);
  const cpu0 = threadCpu(t.pid);
  const sw0 = new Map([...cpu0.keys()].map((tid) => [tid, switches(t.pid, tid)]));
  const t0 = performance.now();
  const r = await go();
  const wallUs = (performance.now() - t0) * 1000;
  const cpu1 = threadCpu(t.pid);
  const sw1 = new Map([...cpu1.keys()].map((tid) => [tid, switches(t.pid, tid)]));
  const split = statsDelta(before, await s.stats());
  const bd = batchDelta(b0, await batchStats(t.http, MODEL));
  const pct = (tid: number): number => Math.round((((cpu1.get(tid) ?? 0) - (cpu0.get(tid) ?? 0)) / wallUs) * 1000) / 10;
  const byCpu = [...cpu1.keys()].filter((tid) => tid !== t.pid).sort((a, b) => pct(b) - pct(a));
  const others = byCpu.map(pct);
  const delta = (tid: number, k: 'vol' | 'invol'): number => (sw1.get(tid)?.[k] ?? NaN) - (sw0.get(tid)?.[k] ?? NaN);
  const rows = Math.max(1, r.requestsPerSec * DURATION_S);
  const perRow = (x: number): number => Math.round((x / rows) * 100) / 100;
  const rowsPerSec = r.requestsPerSec;
  const run: Run = {
    server: s.name, wire, round, rowsPerSec, ceiling, ratio: Math.round((rowsPerSec / ceiling) * 1000) / 1000,
    serverCpuPct: r.serverCpuPct, toolCpuPct: r.toolCpuPct, otherCpuPct: r.otherCpuPct, loadavg1: loadavg()[0]!,
    mainCpuPct: pct(t.pid), topThreadsCpuPct: others.slice(0, 4), split,
    avgBatch: Math.round((bd.rows / Math.max(1, bd.executions)) * 100) / 100,
    inferUsPerRow: Math.round(bd.inferNs / Math.max(1, bd.rows) / 1000),
    batchHistogram: bd.histogram,
    instanceBusyPct: Math.round((bd.inferNs / 1000 / wallUs / INSTANCES) * 1000) / 10,
    ceilingCpuUsPerRow: c.best.cpuUsPerRow ?? null,
    workerCpuUsPerRow: Math.round((others.slice(0, INSTANCES).reduce((x, y) => x + y, 0) / 100) * 1e6 / Math.max(1, rowsPerSec)),
    mainWakesPerRow: perRow(delta(t.pid, 'vol')),
    workerPreemptionsPerRow: perRow(byCpu.slice(0, INSTANCES).reduce((x, tid) => x + delta(tid, 'invol'), 0)),
    serverUsPerRow: r.serverCpuPct !== null && rowsPerSec > 0 ? Math.round((r.serverCpuPct / 100) * 1e6 / rowsPerSec) : null,
  };
  process.stdout.write(`${AB ? `${s.name} ` : ''}${wire} round ${round + 1}: ${rowsPerSec} rows/s, ceiling ${ceiling} -> ${run.ratio}x; ` +
    `server ${r.serverCpuPct}% (main ${run.mainCpuPct}%, threads ${run.topThreadsCpuPct.join('/')}%), tool ${r.toolCpuPct}%, other ${r.otherCpuPct}%, load ${run.loadavg1.toFixed(1)}; ` +
    `batch ${run.avgBatch} (${run.batchHistogram}), queue ${split?.queueUs} us, run ${run.inferUsPerRow} us/row (wall), instances busy ${run.instanceBusyPct}%; ` +
    `CPU/row: workers ${run.workerCpuUsPerRow} us vs ceiling ${run.ceilingCpuUsPerRow} us, server ${run.serverUsPerRow} us; ` +
    `per row: main thread wake-ups ${run.mainWakesPerRow}, instance preemptions ${run.workerPreemptionsPerRow}` +
    `${r.errors ? `, errors ${r.errors}` : ''}${split?.fail ? `, server failures ${split.fail}` : ''}\n`);
  return run;
}

async function main(): Promise<void> {
  const logDir = join(tmpdir(), 'osprey-cnn-served');
  mkdirSync(logDir, { recursive: true });
  const servers: Served[] = [];
  const runs: Run[] = [];
  try {
    servers.push(await serve('A', REPO, SERVER_ARGS, A_MAIN || undefined, logDir));
    if (AB) servers.push(await serve('B', B_REPO || REPO, B_ARGS.split(' ').filter(Boolean), B_MAIN || undefined, logDir));
    if (AB) process.stdout.write(`A: ${A_MAIN || '(this build)'} ${REPO} ${SERVER_ARGS.join(' ')}\nB: ${B_MAIN || '(this build)'} ${B_REPO || REPO} ${B_ARGS}\n`);
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < WIRES.length; k++) {
        const wire = WIRES[(k + round) % WIRES.length]!;
        const c = await ceilingInChild(REPO, MODEL, CEILING_MS, CEILING_BATCHES);
        const order = round % 2 === 0 ? servers : [...servers].reverse();
        for (const s of order) runs.push(await measure(s, wire, round, c));
      }
    }
  } finally {
    for (const s of servers) await s.t.stop();
  }
  const summarize = (mine: Run[]) => ({
    ratio: median(mine.map((r) => r.ratio)), rowsPerSec: median(mine.map((r) => r.rowsPerSec)), ceiling: median(mine.map((r) => r.ceiling)),
    avgBatch: median(mine.map((r) => r.avgBatch)), inferUsPerRow: median(mine.map((r) => r.inferUsPerRow)),
    instanceBusyPct: median(mine.map((r) => r.instanceBusyPct)), workerCpuUsPerRow: median(mine.map((r) => r.workerCpuUsPerRow)),
    ceilingCpuUsPerRow: median(mine.map((r) => r.ceilingCpuUsPerRow ?? NaN)),
    mainWakesPerRow: median(mine.map((r) => r.mainWakesPerRow)), workerPreemptionsPerRow: median(mine.map((r) => r.workerPreemptionsPerRow)),
    serverUsPerRow: median(mine.map((r) => r.serverUsPerRow ?? NaN)), mainCpuPct: median(mine.map((r) => r.mainCpuPct)),
    loadavg1: median(mine.map((r) => r.loadavg1)),
  });
  const summary: Record<string, ReturnType<typeof summarize>> = {};
  for (const w of WIRES) for (const s of servers) summary[AB ? `${s.name} ${w}` : w] = summarize(runs.filter((r) => r.wire === w && r.server === s.name));
  for (const [w, s] of Object.entries(summary)) process.stdout.write(`${w}: median ratio ${s.ratio}x (${s.rowsPerSec} / ${s.ceiling} rows/s), batch ${s.avgBatch}, run ${s.inferUsPerRow} us/row, instances busy ${s.instanceBusyPct}%, ` +
    `CPU/row workers ${s.workerCpuUsPerRow} us vs ceiling ${s.ceilingCpuUsPerRow} us, server ${s.serverUsPerRow} us, main thread ${s.mainCpuPct}%, ` +
    `per row: main wake-ups ${s.mainWakesPerRow}, instance preemptions ${s.workerPreemptionsPerRow}, load ${s.loadavg1.toFixed(1)}\n`);
  const ab: Record<string, { bOverA: number; bHigher: number; rounds: number }> = {};
  if (AB) for (const w of WIRES) {
    const a = runs.filter((r) => r.wire === w && r.server === 'A');
    const b = runs.filter((r) => r.wire === w && r.server === 'B');
    const bOverA = Math.round((median(b.map((r) => r.rowsPerSec)) / median(a.map((r) => r.rowsPerSec))) * 1000) / 1000;
    const bHigher = b.filter((r, i) => r.rowsPerSec > (a[i]?.rowsPerSec ?? Infinity)).length;
    ab[w] = { bOverA, bHigher, rounds: b.length };
    process.stdout.write(`${w}: B/A medians ${bOverA} (rows/s), B higher in ${bHigher} of ${b.length} rounds\n`);
  }
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify({
    model: MODEL, repo: REPO, serverArgs: SERVER_ARGS, main: A_MAIN || null, ...(AB ? { b: { repo: B_REPO || REPO, serverArgs: B_ARGS, main: B_MAIN || null }, ab } : {}),
    concurrency: CONCURRENCY, durationS: DURATION_S, ceilingMs: CEILING_MS, ceilingBatches: CEILING_BATCHES, summary, runs,
  }, null, 2)}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`cnn-served: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
