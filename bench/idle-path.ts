/**
 * Idle-path benchmark: what it costs to hand one small run to a worker thread.
 *
 * For each model, in the same process and interleaved over several rounds (the order
 * of the modes rotates every round), it measures batch-1 runs at concurrency 1, 8 and
 * 64 with:
 *
 *  - inline:   ONNX Runtime on the main thread (the floor; the server never does this),
 *  - piscina:  the previous pool design, one single-thread piscina pool per worker
 *              thread (atomics 'sync', structured-clone messages, transferred buffers),
 *  - channel:  the current `WorkerPool` (shared-memory channel, Atomics wait/notify,
 *              Atomics.waitAsync on the main thread, and the hot hand-off: at most one
 *              request in flight, the idle worker polls and the main thread polls for
 *              short answers),
 *  - channel-cold: the same pool with the hot hand-off off (`spinUs: 0`): every
 *              hand-off wakes a sleeping thread.
 *
 * Each run is counted with the pool's beginRequest/endRequest, as the data plane
 * counts requests, so the hot hand-off only engages at concurrency 1 here too.
 *
 * Each point reports throughput (runs/s) and latency p50/p99 (us); the medians over
 * rounds are printed and written, with every round, to bench/results/idle-path.json.
 *
 *   npm run build && node dist/bench/idle-path.js [--rounds 5] [--duration-ms 1000]
 *     [--models autocomplete,tabular] [--concurrency 1,8,64] [--workers 1]
 *     [--modes inline,piscina,channel,channel-cold] [--slots 4] [--out bench/results/idle-path.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Piscina } from 'piscina';
import { WorkerPool } from '../src/executor/pool.js';
import type { RunInput, RunTensor, SessionSpec } from '../src/types/run.js';
import type { FailedResult, RunResult, WorkerTask } from '../src/worker/protocol.js';
import { arg, repoRoot } from './harness/args.js';

// --- arguments ------------------------------------------------------------------------



const ROOT = repoRoot();
const ROUNDS = Number(arg('rounds', '5'));
const DURATION_MS = Number(arg('duration-ms', '1000'));
const WARMUP_MS = Math.min(300, DURATION_MS);
const CONCURRENCY = arg('concurrency', '1,8,64').split(',').map(Number);
const WORKERS = Number(arg('workers', '1'));
const SLOTS = Number(arg('slots', '0'));
const OUT = resolve(ROOT, arg('out', 'bench/results/idle-path.json'));

interface ModelCase { name: string; path: string; input: string; output: string; features: number }
const MODELS: Record<string, ModelCase> = {
  // a*3, input [N,3]: nearly zero compute, pure hand-off cost.
  autocomplete: { name: 'autocomplete', path: 'test/fixtures/models/autocomplete/1/model.onnx', input: 'a', output: 'b', features: 3 },
  // The bundled small tabular MLP, input [N,64].
  tabular: { name: 'tabular', path: 'model-repository/tabular/1/model.onnx', input: 'features', output: 'score', features: 64 },
};
const MODEL_NAMES = arg('models', 'autocomplete,tabular').split(',').filter((m) => MODELS[m] !== undefined);

const SETTINGS: SessionSpec['settings'] = {
  intraOpThreads: 1, interOpThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  enableMemArena: true, enableMemPattern: true, providers: ['cpu'], soloIntraOpThreads: 0,
};

// --- the previous design, kept here for comparison ------------------------------------------

/** The pool as it was before the shared-memory channel: one single-thread piscina pool per worker thread. */
class PiscinaPool {
  readonly #threads: Piscina<WorkerTask, RunResult | FailedResult>[] = [];
  readonly #busy: Int32Array;

  constructor(workers: number) {
    this.#busy = new Int32Array(workers);
    const filename = new URL('./baselines/piscina-task.js', import.meta.url).href;
    for (let i = 0; i < workers; i++) {
      this.#threads.push(new Piscina({
        filename, minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1, idleTimeout: Infinity, atomics: 'sync',
      }));
    }
  }

  load(thread: number): number { return this.#busy[thread]!; }

  async #call(thread: number, task: WorkerTask, transferList?: ArrayBuffer[]): Promise<RunResult | FailedResult> {
    this.#busy[thread]!++;
    try {
      return await this.#threads[thread]!.run(task, transferList ? { transferList } : undefined);
    } finally {
      this.#busy[thread]!--;
    }
  }

  async loadOn(threads: readonly number[], spec: SessionSpec): Promise<void> {
    for (const r of await Promise.all(threads.map((t) => this.#call(t, { op: 'load', spec })))) {
      if (!r.ok) throw new Error(r.error.message);
    }
  }

  async run(thread: number, spec: SessionSpec, inputs: RunInput[], outputs: string[]): Promise<RunResult> {
    const tensors: RunTensor[] = inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape, data: i.parts[0]! }));
    const r = await this.#call(thread, { op: 'run', spec, inputs: tensors, outputs, rows: 1, largest: 1, solo: false }, tensors.map((i) => i.data.buffer as ArrayBuffer));
    if (!r.ok) throw new Error(r.error.message);
    return r;
  }

  async close(): Promise<void> {
    await Promise.all(this.#threads.map((p) => p.destroy()));
  }
}

// --- runners --------------------------------------------------------------------------

interface Runner {
  /** One batch-1 run; resolves with the output bytes. */
  run(): Promise<ArrayBuffer>;
  close(): Promise<void>;
}

function input(m: ModelCase): RunInput {
  const f = new Float32Array(m.features);
  for (let i = 0; i < f.length; i++) f[i] = (i % 7) * 0.25;
  return { name: m.input, datatype: 'FP32', shape: [1, m.features], parts: [new Uint8Array(f.buffer)] };
}

async function inlineRunner(m: ModelCase): Promise<Runner> {
  const s = await ort.InferenceSession.create(join(ROOT, m.path), {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  return {
    async run() {
      const t = input(m);
      const r = await s.run({ [m.input]: new ort.Tensor('float32', new Float32Array(t.parts[0]!.buffer), t.shape) }, [m.output]);
      const out = r[m.output]!;
      const data = out.data as Float32Array;
      out.dispose();
      return data.buffer as ArrayBuffer;
    },
    close: () => s.release(),
  };
}

interface PoolLike {
  load(thread: number): number;
  beginRequest?(): void;
  endRequest?(): void;
  loadOn(threads: readonly number[], spec: SessionSpec): Promise<unknown>;
  run(thread: number, spec: SessionSpec, inputs: RunInput[], outputs: string[]): Promise<RunResult>;
  close(): Promise<void>;
}

async function poolRunner(m: ModelCase, pool: PoolLike, key: string): Promise<Runner> {
  const spec: SessionSpec = { key, path: join(ROOT, m.path), settings: SETTINGS };
  const threads = Array.from({ length: WORKERS }, (_, i) => i);
  await pool.loadOn(threads, spec);
  return {
    async run() {
      let best = 0;
      for (let t = 1; t < WORKERS; t++) if (pool.load(t) < pool.load(best)) best = t;
      pool.beginRequest?.();
      try {
        const r = await pool.run(best, spec, [input(m)], [m.output]);
        return r.outputs[0]!.data.buffer as ArrayBuffer;
      } finally {
        pool.endRequest?.();
      }
    },
    close: () => pool.close(),
  };
}

// --- measurement --------------------------------------------------------------------------

interface Point { runsPerSec: number; p50us: number; p99us: number; samples: number }

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

async function measure(r: Runner, concurrency: number, ms: number, record: boolean): Promise<Point> {
  const lat: number[] = [];
  const end = performance.now() + ms;
  let n = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const out = await r.run();
      if (out.byteLength === 0) throw new Error('empty output');
      if (record) lat.push(performance.now() - t0);
      n++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = performance.now() - t0;
  const sorted = Float64Array.from(lat).sort();
  return {
    runsPerSec: Math.round((n * 1000) / elapsed),
    p50us: sorted.length ? Math.round(percentile(sorted, 0.5) * 10000) / 10 : 0,
    p99us: sorted.length ? Math.round(percentile(sorted, 0.99) * 10000) / 10 : 0,
    samples: n,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// --- main -----------------------------------------------------------------------------

const MODES = arg('modes', 'inline,piscina,channel,channel-cold').split(',');

async function makeRunner(mode: string, m: ModelCase): Promise<Runner> {
  if (mode === 'inline') return inlineRunner(m);
  if (mode === 'piscina') return poolRunner(m, new PiscinaPool(WORKERS), `${m.name}-piscina`);
  if (mode === 'channel') return poolRunner(m, new WorkerPool(WORKERS, SLOTS > 0 ? { slots: SLOTS } : {}), `${m.name}-channel`);
  if (mode === 'channel-cold') return poolRunner(m, new WorkerPool(WORKERS, { spinUs: 0, ...(SLOTS > 0 ? { slots: SLOTS } : {}) }), `${m.name}-cold`);
  throw new Error(`unknown mode '${mode}' (inline, piscina, channel, channel-cold)`);
}

interface Row { model: string; mode: string; concurrency: number; rounds: Point[]; median: Omit<Point, 'samples'> }

async function main(): Promise<void> {
  const rows = new Map<string, Row>();
  for (const name of MODEL_NAMES) {
    const m = MODELS[name]!;
    const runners = new Map<string, Runner>();
    for (const mode of MODES) runners.set(mode, await makeRunner(mode, m));
    for (const mode of MODES) await measure(runners.get(mode)!, 8, WARMUP_MS, false);
    for (let round = 0; round < ROUNDS; round++) {
      const order = MODES.map((_, i) => MODES[(i + round) % MODES.length]!);
      for (const c of CONCURRENCY) {
        for (const mode of order) {
          const r = runners.get(mode)!;
          await measure(r, c, Math.min(100, WARMUP_MS), false);
          const p = await measure(r, c, DURATION_MS, true);
          const key = `${name}/${mode}/${c}`;
          let row = rows.get(key);
          if (row === undefined) {
            row = { model: name, mode, concurrency: c, rounds: [], median: { runsPerSec: 0, p50us: 0, p99us: 0 } };
            rows.set(key, row);
          }
          row.rounds.push(p);
        }
      }
      process.stderr.write(`${name}: round ${round + 1}/${ROUNDS} done\n`);
    }
    for (const r of runners.values()) await r.close();
  }

  for (const row of rows.values()) {
    row.median = {
      runsPerSec: median(row.rounds.map((p) => p.runsPerSec)),
      p50us: median(row.rounds.map((p) => p.p50us)),
      p99us: median(row.rounds.map((p) => p.p99us)),
    };
  }

  const get = (model: string, mode: string, c: number): Row['median'] | undefined => rows.get(`${model}/${mode}/${c}`)?.median;
  const ratios: Record<string, Record<string, number>> = {};
  const round2 = (x: number): number => Math.round(x * 100) / 100;
  for (const name of MODEL_NAMES) {
    const r: Record<string, number> = {};
    const inl = get(name, 'inline', 1);
    const pis = get(name, 'piscina', 1);
    const chn = get(name, 'channel', 1);
    const cold = get(name, 'channel-cold', 1);
    if (inl && chn) r['c1_p50_channel_over_inline'] = round2(chn.p50us / inl.p50us);
    if (inl && pis) r['c1_p50_piscina_over_inline'] = round2(pis.p50us / inl.p50us);
    if (pis && chn) r['c1_p50_piscina_over_channel'] = round2(pis.p50us / chn.p50us);
    if (cold && chn) r['c1_p50_cold_over_channel'] = round2(cold.p50us / chn.p50us);
    for (const c of CONCURRENCY) {
      const a = get(name, 'channel', c);
      const b = get(name, 'piscina', c);
      const i = get(name, 'inline', c);
      if (a && b) r[`c${c}_throughput_channel_over_piscina`] = round2(a.runsPerSec / b.runsPerSec);
      if (a && i) r[`c${c}_throughput_channel_over_inline`] = round2(a.runsPerSec / i.runsPerSec);
      const k = get(name, 'channel-cold', c);
      if (a && k) r[`c${c}_throughput_channel_over_cold`] = round2(a.runsPerSec / k.runsPerSec);
    }
    ratios[name] = r;
  }

  console.log(`idle path: ${WORKERS} worker thread(s), ${ROUNDS} rounds x ${DURATION_MS} ms per point, medians over rounds`);
  console.log('model         mode            conc   runs/s    p50 us    p99 us');
  for (const row of rows.values()) {
    const m = row.median;
    console.log(`${row.model.padEnd(13)} ${row.mode.padEnd(15)} ${String(row.concurrency).padStart(4)} ${String(m.runsPerSec).padStart(8)} ${m.p50us.toFixed(1).padStart(9)} ${m.p99us.toFixed(1).padStart(9)}`);
  }
  for (const [name, r] of Object.entries(ratios)) console.log(name, JSON.stringify(r));

  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify({
    bench: 'idle-path',
    date: new Date().toISOString(),
    machine: { cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? '', node: process.version, loadavgAtEnd: loadavg() },
    config: { rounds: ROUNDS, durationMs: DURATION_MS, concurrency: CONCURRENCY, workers: WORKERS, models: MODEL_NAMES, slots: SLOTS > 0 ? SLOTS : 4 },
    rows: [...rows.values()],
    ratios,
  }, null, 2) + '\n');
  console.log(`wrote ${OUT}`);
}

await main();
