/**
 * Hot-swap benchmark: steady closed-loop load on `tabular` (HTTP and gRPC) while
 * new versions of `tabular` itself and of the larger `cnn` are dropped into the
 * repository (renamed into place, as a deploy script would) one after another.
 *
 * One Osprey runs as a child process in 'watch' mode on a temporary copy of the two
 * models. The run alternates phases, rotating their order every round so drift on a
 * shared machine hits all of them alike:
 *   steady        no repository changes;
 *   swap-tabular  back-to-back new versions of tabular (the model under load: every
 *                 swap moves the traffic to a new version and drains the old one);
 *   swap-cnn      back-to-back new versions of cnn (another model's load sharing the
 *                 worker threads with tabular's instances).
 * A request counts in the phase it was sent in; after a swap phase, the swap in
 * progress finishes and 200 ms pass before the next phase starts (not counted).
 * It reports p50/p90/p99/p99.9/max per phase and protocol, how long each swap took
 * from the rename to the new version answering ready, and every failed request
 * (there should be none). Results go to bench/results/swap.json.
 *
 *   npm run build && node dist/swap.js [--rounds 4] [--phase-ms 3000]
 *     [--concurrency 2] [--protocols http,grpc] [--workers 0] [--settle-ms 100]
 *     [--swap-gap-ms 0] [--out bench/results/swap.json]
 *
 * `--workers 0` is the server's default placement (a worker thread per instance, so a
 * new version loads on threads nothing else uses); `--workers 2` fixes the pool at two
 * threads, so new versions load beside the serving ones.
 */
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { freePort } from './harness/ports.js';
import { spawnServer, waitReady } from './harness/server-process.js';
import { httpCall } from './loadgen/http-get.js';
import { Histogram, summarize, type LatencySummary } from './loadgen/histogram.js';
import { machineInfo } from './loadgen/machine.js';
import { prepare } from './loadgen/sweep.js';
import { makeTransport, type Transport } from './loadgen/transport.js';
import type { Protocol } from './loadgen/types.js';
import { arg } from './harness/args.js';
import { BENCH_ROOT, OSPREY_MAIN, OSPREY_REPOSITORY } from './harness/paths.js';

// --- arguments ------------------------------------------------------------------------



const ROUNDS = Number(arg('rounds', '4'));
const PHASE_MS = Number(arg('phase-ms', '3000'));
const CONCURRENCY = Number(arg('concurrency', '2'));
const PROTOCOLS = arg('protocols', 'http,grpc').split(',') as Protocol[];
const WORKERS = arg('workers', '0');
const SETTLE_MS = arg('settle-ms', '100');
/** Pause between swaps within a swap phase (0: back to back, the worst case). */
const SWAP_GAP_MS = Number(arg('swap-gap-ms', '0'));
const OUT = resolve(BENCH_ROOT, arg('out', 'results/swap.json'));
const LOAD_MODEL = 'tabular';
const SWAP_MODELS = ['tabular', 'cnn'] as const;
type SwapModel = typeof SWAP_MODELS[number];
type PhaseKind = 'steady' | `swap-${SwapModel}`;
const PHASES: readonly PhaseKind[] = ['steady', 'swap-tabular', 'swap-cnn'];

// --- repository -----------------------------------------------------------------------

const repo = mkdtempSync(join(tmpdir(), 'osprey-swap-bench-'));
const staging = join(repo, '.staging'); // dot-folders are not models
mkdirSync(staging);
const current: Record<SwapModel, number> = { tabular: 1, cnn: 1 };
for (const m of SWAP_MODELS) {
  mkdirSync(join(repo, m));
  copyFileSync(join(OSPREY_REPOSITORY, m, 'config.pbtxt'), join(repo, m, 'config.pbtxt'));
  cpSync(join(OSPREY_REPOSITORY, m, '1'), join(repo, m, '1'), { recursive: true });
  copyFileSync(join(OSPREY_REPOSITORY, m, '1', 'model.onnx'), join(staging, `${m}.onnx`));
}

const old = new Date(Date.now() - 3600_000);

/**
 * Readiness probe, running through every phase alike (so its own cost is in the
 * steady numbers too): asks whether `watching` is ready every 5 ms.
 */
let watching = { model: 'tabular', version: 1 };
let readySeen = '';
let probing = true;
async function probe(http: string): Promise<void> {
  while (probing) {
    const w = watching;
    const r = await httpCall(http, 'GET', `/v2/models/${w.model}/versions/${w.version}/ready`, undefined, {}, 5000).catch(() => ({ status: 0 }));
    if (r.status === 200) readySeen = `${w.model}/${w.version}`;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Stage version n+1 (a finished copy), rename it into place; resolves once it answers ready. */
async function swap(m: SwapModel): Promise<number> {
  const next = current[m] + 1;
  const dir = join(staging, `${m}-${next}`);
  mkdirSync(dir);
  copyFileSync(join(staging, `${m}.onnx`), join(dir, 'model.onnx'));
  utimesSync(join(dir, 'model.onnx'), old, old);
  utimesSync(dir, old, old);
  const t0 = performance.now();
  watching = { model: m, version: next };
  renameSync(dir, join(repo, m, String(next)));
  const until = Date.now() + 60_000;
  while (readySeen !== `${m}/${next}`) {
    if (Date.now() > until) throw new Error(`${m} version ${next} not ready after 60 s`);
    await new Promise((r) => setTimeout(r, 1));
  }
  const ms = performance.now() - t0;
  // The replaced version is already drained and unloaded; its folder can go.
  rmSync(join(repo, m, String(current[m])), { recursive: true, force: true });
  current[m] = next;
  watching = { model: 'tabular', version: current.tabular };
  return ms;
}

// --- load -----------------------------------------------------------------------------

interface Bucket { hist: Histogram; errors: Map<string, number> }
const buckets = new Map<string, Bucket>();
function bucket(phase: string, protocol: string): Bucket {
  const key = `${phase}|${protocol}`;
  let b = buckets.get(key);
  if (b === undefined) buckets.set(key, b = { hist: new Histogram(), errors: new Map() });
  return b;
}

let phase: PhaseKind | 'warmup' | 'gap' = 'warmup';
let running = true;

function drive(t: Transport, protocol: Protocol, count: number, loops: Promise<void>[]): void {
  for (let i = 0; i < CONCURRENCY; i++) {
    loops.push(new Promise<void>((done) => {
      let n = i;
      const next = (): void => {
        if (!running) { done(); return; }
        const p = phase;
        const t0 = performance.now();
        t.send(n++ % count, (err) => {
          const b = bucket(p, protocol);
          if (err !== null) b.errors.set(err, (b.errors.get(err) ?? 0) + 1);
          else b.hist.record((performance.now() - t0) * 1000);
          next();
        });
      };
      next();
    }));
  }
}

// --- run ------------------------------------------------------------------------------

async function main(): Promise<void> {
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const http = `127.0.0.1:${httpPort}`;
  const grpc = `127.0.0.1:${grpcPort}`;
  // The server's log (JSON lines) is read back for its load times; kept with the quick runs.
  const logPath = join(BENCH_ROOT, 'results', 'tmp', basename(OUT).replace(/\.json$/, '.server.log'));
  const server = spawnServer(process.execPath, [
    OSPREY_MAIN, '--model-repository', repo, '--model-control-mode', 'watch',
    '--repository-poll-secs', '1', '--repository-settle-ms', SETTLE_MS, '--worker-threads', WORKERS,
    '--http-port', String(httpPort), '--grpc-port', String(grpcPort), '--allow-metrics', 'false',
    '--http-address', '127.0.0.1', '--grpc-address', '127.0.0.1', '--log-format', 'json',
  ], logPath);
  const transports: Transport[] = [];
  const loops: Promise<void>[] = [];
  const swapTimes: Record<SwapModel, number[]> = { tabular: [], cnn: [] };
  const phaseTime: Record<string, number> = {};
  let stopProbe = async (): Promise<void> => undefined;
  try {
    await waitReady(server, http, ['/v2/health/ready'], 60_000);
    const prober = probe(http);
    stopProbe = async () => { probing = false; await prober; };
    for (const protocol of PROTOCOLS) {
      const url = protocol === 'grpc' ? grpc : http;
      const { payloads, control } = await prepare({
        url, protocol, model: LOAD_MODEL, batchSize: 1, inputData: 'random', mode: 'concurrency', values: [CONCURRENCY],
        warmupMs: 0, measurementMs: 0, stabilityPct: 10, maxTrials: 1, serverStats: false,
      });
      control?.close();
      const t = makeTransport(payloads, url, protocol === 'grpc' ? 2 : CONCURRENCY);
      transports.push(t);
      drive(t, protocol, payloads.requests.length, loops);
    }
    await new Promise((r) => setTimeout(r, 1000)); // warm-up, not counted

    for (let round = 0; round < ROUNDS; round++) {
      const order = PHASES.map((_, i) => PHASES[(i + round) % PHASES.length]!);
      for (const kind of order) {
        const start = performance.now();
        phase = kind;
        if (kind === 'steady') {
          await new Promise((r) => setTimeout(r, PHASE_MS));
        } else {
          const m = kind.slice('swap-'.length) as SwapModel;
          while (performance.now() - start < PHASE_MS) {
            swapTimes[m].push(await swap(m));
            if (SWAP_GAP_MS > 0) await new Promise((r) => setTimeout(r, SWAP_GAP_MS));
          }
        }
        phaseTime[kind] = (phaseTime[kind] ?? 0) + (performance.now() - start);
        phase = 'gap';
        await new Promise((r) => setTimeout(r, 200));
        process.stdout.write(`round ${round + 1}/${ROUNDS} ${kind}: done\n`);
      }
    }
  } finally {
    await stopProbe();
    running = false;
    await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 5000))]);
    for (const t of transports) t.close();
    await server.stop();
    rmSync(repo, { recursive: true, force: true });
  }

  // --- report -------------------------------------------------------------------------
  interface Row { phase: string; protocol: string; requests: number; rps: number; latencyUs: LatencySummary; errors: Record<string, number> }
  const rows: Row[] = [];
  let failed = 0;
  const groups: Array<[string, PhaseKind[]]> = [['steady', ['steady']], ['swap-tabular', ['swap-tabular']], ['swap-cnn', ['swap-cnn']], ['swaps (all)', ['swap-tabular', 'swap-cnn']]];
  for (const [name, kinds] of groups) {
    for (const protocol of [...PROTOCOLS, 'all']) {
      const h = new Histogram();
      const errors: Record<string, number> = {};
      for (const k of kinds) {
        for (const p of protocol === 'all' ? PROTOCOLS : [protocol]) {
          const b = buckets.get(`${k}|${p}`);
          if (b === undefined) continue;
          h.merge(b.hist);
          for (const [e, n] of b.errors) errors[e] = (errors[e] ?? 0) + n;
        }
      }
      const secs = kinds.reduce((s, k) => s + (phaseTime[k] ?? 0), 0) / 1000;
      const errs = Object.values(errors).reduce((a, b) => a + b, 0);
      rows.push({ phase: name, protocol, requests: h.count + errs, rps: Math.round((h.count + errs) / secs), latencyUs: summarize(h), errors });
    }
  }
  for (const [k, b] of buckets) if (!k.startsWith('warmup|')) for (const n of b.errors.values()) failed += n;
  // The server's own account of each load (session creation on every instance thread + warmup).
  const loadMs: Record<string, number[]> = {};
  for (const line of readFileSync(logPath, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const rec = JSON.parse(line) as { msg?: string; model?: string; ms?: number; version?: number };
      if (rec.msg === 'model version ready' && typeof rec.ms === 'number' && rec.version !== 1) (loadMs[rec.model!] ??= []).push(rec.ms);
    } catch { /* not a log record */ }
  }
  const quant = (xs: number[], p: number) => { const t = [...xs].sort((a, b) => a - b); return Math.round(t[Math.min(t.length - 1, Math.floor(p * t.length))] ?? 0); };
  const swapStats = Object.fromEntries(SWAP_MODELS.map((m) => [m, {
    swaps: swapTimes[m].length,
    renameToReadyMs: { p50: quant(swapTimes[m], 0.5), max: quant(swapTimes[m], 1) },
    serverLoadMs: { p50: quant(loadMs[m] ?? [], 0.5), max: quant(loadMs[m] ?? [], 1) },
  }]));
  const steadyAll = rows.find((r) => r.phase === 'steady' && r.protocol === 'all')!;
  const swapsAll = rows.find((r) => r.phase === 'swaps (all)' && r.protocol === 'all')!;
  const result = {
    bench: 'swap',
    date: new Date().toISOString(),
    machine: machineInfo(),
    options: { rounds: ROUNDS, phaseMs: PHASE_MS, concurrencyPerProtocol: CONCURRENCY, protocols: PROTOCOLS, workers: WORKERS, settleMs: Number(SETTLE_MS), swapGapMs: SWAP_GAP_MS, loadModel: LOAD_MODEL, swapModels: SWAP_MODELS },
    failedRequests: failed,
    swaps: swapStats,
    summary: {
      steady: { p50Us: steadyAll.latencyUs.p50, p99Us: steadyAll.latencyUs.p99, rps: steadyAll.rps },
      duringSwaps: { p50Us: swapsAll.latencyUs.p50, p99Us: swapsAll.latencyUs.p99, rps: swapsAll.rps },
      p99Ratio: Math.round((swapsAll.latencyUs.p99 / Math.max(1, steadyAll.latencyUs.p99)) * 100) / 100,
    },
    rows,
  };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');

  const pad = (s: string | number, n: number) => String(s).padStart(n);
  console.log(`\n${LOAD_MODEL} under load (${PROTOCOLS.join('+')}, concurrency ${CONCURRENCY} each) while versions are swapped; latency in us`);
  console.log(`${'phase'.padEnd(14)}${'proto'.padEnd(6)}${pad('requests', 9)}${pad('req/s', 8)}${pad('p50', 8)}${pad('p90', 8)}${pad('p99', 8)}${pad('p99.9', 8)}${pad('max', 9)}  errors`);
  for (const r of rows) {
    const l = r.latencyUs;
    console.log(`${r.phase.padEnd(14)}${r.protocol.padEnd(6)}${pad(r.requests, 9)}${pad(r.rps, 8)}${pad(l.p50, 8)}${pad(l.p90, 8)}${pad(l.p99, 8)}${pad(l.p999, 8)}${pad(l.max, 9)}  ${JSON.stringify(r.errors)}`);
  }
  for (const m of SWAP_MODELS) {
    const st = swapStats[m]!;
    console.log(`${m}: ${st.swaps} swaps; rename -> ready p50 ${st.renameToReadyMs.p50} ms (max ${st.renameToReadyMs.max}); server load+warmup p50 ${st.serverLoadMs.p50} ms (max ${st.serverLoadMs.max})`);
  }
  console.log(`p99 during swaps / steady: ${result.summary.p99Ratio}`);
  console.log(`failed requests: ${failed}`);
  console.log(`wrote ${OUT}`);
  if (failed > 0) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  rmSync(repo, { recursive: true, force: true });
  process.exit(1);
});
