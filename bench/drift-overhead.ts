/**
 * Micro-benchmark: what observability adds to one request on the main thread, and
 * what a scrape costs. In one process, for the bundled `tabular` model's config
 * (`features` FP32 [64] -> `score` FP32 [1], drift defaults: 16 features, window
 * 1024, every row sampled), it times:
 *
 *  - drift-in:    VersionDrift.sampleInputs for one request of B rows,
 *  - drift-out:   VersionDrift.sampleOutputs for the same request,
 *  - sink:        VersionSeries.success + execution (histograms, failure counters),
 *  - observer:    the three data-plane hook calls as a request makes them
 *                 (prepared + succeeded; request logging off),
 *  - baseline:    an empty loop doing the same buffer bookkeeping (subtracted),
 *
 * for B = 1, 8 and 64, and the time to compute every drift gauge of one version
 * after new rows came in (`scrape-stats`, 16 + 1 features x 1024 rows) and to
 * render the whole /metrics text for it (`scrape-text`, and with prom-client's
 * default metrics). Times are CPU time of this process (user + system).
 *
 *   npm run build && node dist/bench/drift-overhead.js [--iterations 200000] [--rounds 5]
 *     [--out bench/results/drift-overhead.json]
 *
 * Prints a table of median ns per call over the rounds and writes all rounds as JSON.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import type { ModelConfig } from '../src/config/model-config.js';
import type { PreparedRequest } from '../src/request/prepare.js';
import { VersionDrift, driftOptions } from '../src/obs/drift.js';
import { LogControl } from '../src/obs/logger.js';
import { OspreyMetrics, VersionSeries } from '../src/obs/metrics.js';
import { Observability } from '../src/obs/observer.js';
import type { ModelVersion } from '../src/registry/model-version.js';
import { VersionStats } from '../src/registry/stats.js';
import type { InferenceRequest } from '../src/types/inference.js';
import type { Tensor } from '../src/types/tensor.js';
import { arg } from './harness/args.js';


const ITER = Number(arg('iterations', '200000'));
const ROUNDS = Number(arg('rounds', '5'));
const OUT = arg('out', 'bench/results/drift-overhead.json');

const cfg = {
  name: 'tabular', max_batch_size: 64,
  input: [{ name: 'features', data_type: 'TYPE_FP32', dims: [64] }],
  output: [{ name: 'score', data_type: 'TYPE_FP32', dims: [1] }],
  parameters: {},
} as unknown as ModelConfig;

/** A stand-in ModelVersion: only what the metrics and observer read. */
function fakeVersion(): ModelVersion {
  return {
    name: 'tabular', version: 1, versionString: '1', config: cfg, stats: new VersionStats(),
    spec: { path: '/nonexistent/tabular/1/model.onnx' }, batcher: { queued: 0, inFlight: 0 }, loadSeconds: 0.1,
  } as unknown as ModelVersion;
}

function makeRequest(rows: number): { p: PreparedRequest; outputs: Tensor[]; req: InferenceRequest } {
  const x = new Float32Array(rows * 64);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i) * 3;
  const y = new Float32Array(rows).fill(0.5);
  const p: PreparedRequest = {
    inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 64], data: new Uint8Array(x.buffer) }],
    outputs: [{ name: 'score' }], batchSize: rows, shapeKey: '',
  };
  const outputs: Tensor[] = [{ name: 'score', datatype: 'FP32', shape: [rows, 1], data: new Uint8Array(y.buffer) }];
  const req = { modelName: 'tabular', modelVersion: '', id: '', parameters: {}, inputs: [], deadline: Infinity } as unknown as InferenceRequest;
  return { p, outputs, req };
}

/**
 * CPU nanoseconds of this process per call (process.cpuUsage, user + system), not
 * wall time: on a shared machine the wall clock also counts time the process was
 * not running at all.
 */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

function time(fn: () => void, n: number): number {
  for (let i = 0; i < Math.min(n, 20_000); i++) fn(); // warm up (JIT)
  const t0 = cpuNs();
  for (let i = 0; i < n; i++) fn();
  return (cpuNs() - t0) / n;
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

async function main(): Promise<void> {
  const quiet = new Writable({ write(_c, _e, cb) { cb(); } });
  const logs = new LogControl({ log_file: '', log_info: true, log_warning: true, log_error: true, log_verbose_level: 0, log_format: 'default' }, quiet);
  const rounds: Array<Record<string, number>> = [];
  for (let round = 0; round < ROUNDS; round++) {
    const r: Record<string, number> = {};
    for (const rows of [1, 8, 64]) {
      const { p, outputs, req } = makeRequest(rows);
      const d = new VersionDrift(cfg, driftOptions(cfg)!);
      let sink = 0;
      r[`baseline/b${rows}`] = time(() => { sink += p.inputs[0]!.data.byteLength + outputs.length; }, ITER);
      r[`drift-in/b${rows}`] = time(() => d.sampleInputs(p), ITER);
      r[`drift-out/b${rows}`] = time(() => d.sampleOutputs(outputs, rows), ITER);
      d.close();
      const v = fakeVersion();
      const s = new VersionSeries(v, undefined);
      r[`sink/b${rows}`] = time(() => { s.success(rows, 250_000, 20_000, 5_000, 200_000, 5_000); s.execution(rows, 5_000, 200_000, 5_000); }, ITER);
      const obs = new Observability({ logs, metrics: true });
      const ov = fakeVersion();
      obs.versionReady(ov);
      r[`observer/b${rows}`] = time(() => { obs.prepared(ov, p); obs.succeeded(ov, req, p, outputs, 0); }, ITER);
      obs.versionRetired(ov);
      if (sink < 0) console.log(sink);
    }
    // Scrape: one version, window full of fresh rows each time.
    const m = new OspreyMetrics({ defaultMetrics: false });
    const v = fakeVersion();
    const s = m.bind(v);
    const { p, outputs } = makeRequest(64);
    for (let i = 0; i < 16; i++) { s.drift!.sampleInputs(p); s.drift!.sampleOutputs(outputs, 64); }
    await new Promise((res) => setImmediate(res));
    const n = 200;
    let t0 = cpuNs();
    for (let i = 0; i < n; i++) { s.drift!.sampleInputs(p); for (const t of s.drift!.all) t.stats(); }
    r['scrape-stats'] = (cpuNs() - t0) / n - r['drift-in/b64']!;
    t0 = cpuNs();
    for (let i = 0; i < n; i++) { s.drift!.sampleInputs(p); await m.metrics(); }
    r['scrape-text'] = (cpuNs() - t0) / n - r['drift-in/b64']!;
    // The same scrape with prom-client's default process/nodejs metrics too.
    const md = new OspreyMetrics({});
    const vd = fakeVersion();
    const sd = md.bind(vd);
    for (let i = 0; i < 16; i++) sd.drift!.sampleInputs(p);
    await new Promise((res) => setImmediate(res));
    for (let i = 0; i < 20; i++) await md.metrics();
    t0 = cpuNs();
    for (let i = 0; i < n; i++) { sd.drift!.sampleInputs(p); await md.metrics(); }
    r['scrape-text-default-metrics'] = (cpuNs() - t0) / n - r['drift-in/b64']!;
    md.unbind(vd);
    m.unbind(v);
    rounds.push(r);
  }
  const keys = Object.keys(rounds[0]!);
  const med: Record<string, number> = {};
  for (const k of keys) med[k] = Math.round(median(rounds.map((r) => r[k]!)));
  console.log(`drift/metrics overhead, median of ${ROUNDS} rounds x ${ITER} calls (ns per call; scrape: ns per scrape)`);
  console.log('rows | drift-in | drift-out | sink | observer (all hooks) | baseline');
  for (const b of [1, 8, 64]) {
    console.log(`${String(b).padStart(4)} | ${String(med[`drift-in/b${b}`]).padStart(8)} | ${String(med[`drift-out/b${b}`]).padStart(9)} | ${String(med[`sink/b${b}`]).padStart(4)} | ${String(med[`observer/b${b}`]).padStart(20)} | ${String(med[`baseline/b${b}`]).padStart(8)}`);
  }
  console.log(`scrape, one version: drift stats (17 features x 1024 rows) ${(med['scrape-stats']! / 1000).toFixed(1)} us; `
    + `whole /metrics text ${(med['scrape-text']! / 1000).toFixed(1)} us, with prom-client default metrics ${(med['scrape-text-default-metrics']! / 1000).toFixed(1)} us`);
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, iterations: ITER, median: med, rounds }, null, 2)}\n`);
  console.log(`wrote ${OUT}`);
}

void main();
