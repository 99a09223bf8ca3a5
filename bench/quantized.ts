/**
 * The bundled cnn in FP32, INT8 (QDQ) and FP16 (`cnn`, `cnn_int8`, `cnn_fp16`, made by
 * scripts/make_quantized_models.py): accuracy against FP32 and throughput, in one run.
 *
 * 1. Accuracy: the three models run in this process on the same seeded images
 *    (uniform [0, 1) in steps of 2^-10, so FP32 and FP16 inputs hold the very same
 *    values): max and mean |logit - FP32 logit|, and how often the top-1 class agrees.
 * 2. In-process ceiling: rows/s of each model run directly by ONNX Runtime (one worker
 *    per core, one intra-op thread each) at batch 1 and its best batch of 1/8/32,
 *    in a child process per sample.
 * 3. Served: one Osprey on the bundled repository; batch-1 requests at concurrency
 *    `--concurrency` over HTTP with binary tensors and over gRPC (FP16 travels raw on
 *    both, as in Triton), with the bench's own load generator.
 *
 * Every round runs the three models in turn, rotating which goes first, so drift on a
 * shared machine hits them alike; the summary gives medians over rounds, the ratio to
 * FP32, and the machine's load (loadavg and other programs' CPU during the levels).
 *
 *   npm run build && node dist/quantized.js [--rounds 3] [--concurrency 16]
 *     [--duration-ms 2000] [--images 256] [--out bench/results/tmp/quantized.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { arg } from './harness/args.js';
import { ceilingInChild } from './harness/ceiling-run.js';
import { startTarget } from './harness/targets.js';
import { fromHalf, valuesToRaw } from './loadgen/tensor-values.js';
import { runSweep } from './loadgen/sweep.js';
import type { Protocol } from './loadgen/types.js';
import { BENCH_ROOT, OSPREY_REPOSITORY } from './harness/paths.js';
import { median } from './harness/median.js';

const ROUNDS = Number(arg('rounds', '3'));
const CONCURRENCY = Number(arg('concurrency', '16'));
const DURATION_MS = Number(arg('duration-ms', '2000'));
const IMAGES = Number(arg('images', '256'));
const REPO = OSPREY_REPOSITORY;
const OUT = arg('out', join(BENCH_ROOT, 'results/tmp/quantized.json'));
const MODELS = ['cnn', 'cnn_int8', 'cnn_fp16'] as const;
type Model = typeof MODELS[number];
const ROW = 3 * 32 * 32;
const WIRES: Array<{ id: string; protocol: Protocol; binary: boolean }> = [
  { id: 'http-binary', protocol: 'http', binary: true },
  { id: 'grpc', protocol: 'grpc', binary: false },
];

const log = (s: string): void => void process.stdout.write(`${s}\n`);
const rotate = <T>(xs: readonly T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length]!);

// ------------------------------------------------------------------ accuracy

/** Seeded images whose values are exact in FP16 and FP32 alike. */
function images(n: number): number[] {
  let s = 20261205;
  const out = new Array<number>(n * ROW);
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = (s >>> 22) / 1024;
  }
  return out;
}

async function logitsOf(model: Model, values: number[], n: number): Promise<number[]> {
  const session = await ort.InferenceSession.create(join(REPO, model, '1', 'model.onnx'), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const dt = model === 'cnn_fp16' ? 'FP16' : 'FP32';
    const raw = valuesToRaw(dt, values);
    const buf = new Uint8Array(raw).buffer;
    const data = dt === 'FP16' ? new Uint16Array(buf) : new Float32Array(buf);
    const out: number[] = [];
    for (let off = 0; off < n; off += 32) {
      const rows = Math.min(32, n - off);
      const slice = data.subarray(off * ROW, (off + rows) * ROW);
      const t = new ort.Tensor(dt === 'FP16' ? 'float16' : 'float32', slice as never, [rows, 3, 32, 32]);
      const r = (await session.run({ image: t })).logits!;
      const d = r.data as Float32Array | Uint16Array;
      // ORT hands float16 data over as its bits (Uint16Array).
      for (const v of d) out.push(dt === 'FP16' ? fromHalf(v) : v);
    }
    return out;
  } finally {
    await session.release();
  }
}

interface Accuracy { maxAbsDiff: number; meanAbsDiff: number; top1Agreement: number; maxAbsLogit: number }

function compare(ref: number[], got: number[], n: number): Accuracy {
  let max = 0;
  let sum = 0;
  let agree = 0;
  let maxRef = 0;
  for (let r = 0; r < n; r++) {
    let a = 0;
    let b = 0;
    for (let c = 0; c < 10; c++) {
      const i = r * 10 + c;
      const d = Math.abs(got[i]! - ref[i]!);
      max = Math.max(max, d);
      sum += d;
      maxRef = Math.max(maxRef, Math.abs(ref[i]!));
      if (ref[i]! > ref[r * 10 + a]!) a = c;
      if (got[i]! > got[r * 10 + b]!) b = c;
    }
    if (a === b) agree++;
  }
  return { maxAbsDiff: max, meanAbsDiff: sum / (n * 10), top1Agreement: agree / n, maxAbsLogit: maxRef };
}

// ------------------------------------------------------------------ throughput

interface Sample { round: number; model: Model; what: string; rowsPerSec: number; p50Ms?: number; p99Ms?: number; serverCpuPct?: number | null; otherCpuPct?: number | null; errors?: number }

async function main(): Promise<void> {
  log(`quantized bench: ${ROUNDS} rounds, c=${CONCURRENCY}, ${DURATION_MS} ms windows; loadavg at start ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const values = images(IMAGES);
  const logits = {} as Record<Model, number[]>;
  for (const m of MODELS) logits[m] = await logitsOf(m, values, IMAGES);
  const accuracy = {} as Record<Model, Accuracy>;
  for (const m of MODELS) {
    accuracy[m] = compare(logits.cnn, logits[m], IMAGES);
    const a = accuracy[m];
    log(`accuracy ${m.padEnd(8)} vs FP32 over ${IMAGES} images: max |diff| ${a.maxAbsDiff.toExponential(2)}, mean ${a.meanAbsDiff.toExponential(2)}, top-1 agrees ${(a.top1Agreement * 100).toFixed(1)}% (max |logit| ${a.maxAbsLogit.toFixed(3)})`);
  }

  const samples: Sample[] = [];
  const target = await startTarget('osprey', {
    repo: REPO, noBatchRepo: '', models: [...MODELS], logDir: join(tmpdir(), 'osprey-quantized-bench'), readyTimeoutMs: 60_000,
  });
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = rotate(MODELS, round);
      for (const m of order) {
        const c = await ceilingInChild(REPO, m, DURATION_MS / 2, [1, 8, 32]);
        const b1 = c.sweep.find((p) => p.batch === 1)!;
        samples.push({ round, model: m, what: 'ceiling-b1', rowsPerSec: b1.rowsPerSec });
        samples.push({ round, model: m, what: 'ceiling-best', rowsPerSec: c.best.rowsPerSec });
        log(`round ${round + 1} ceiling ${m}: batch 1 ${b1.rowsPerSec} rows/s, best ${c.best.rowsPerSec} at batch ${c.best.batch}`);
      }
      for (const w of WIRES) {
        for (const m of order) {
          const r = await runSweep({
            url: w.protocol === 'grpc' ? target.grpc! : target.http, protocol: w.protocol, binary: w.binary, model: m,
            batchSize: 1, inputData: 'random', mode: 'concurrency', values: [CONCURRENCY], warmupMs: 500,
            measurementMs: DURATION_MS, stabilityPct: 10, maxTrials: 3, pids: { osprey: target.pid },
          });
          const l = r.levels[0]!;
          samples.push({
            round, model: m, what: w.id, rowsPerSec: l.inferencesPerSec, p50Ms: l.latencyUs.p50 / 1000, p99Ms: l.latencyUs.p99 / 1000,
            serverCpuPct: l.processCpuPct.osprey, otherCpuPct: l.foreignCpuPct, errors: l.errorCount,
          });
          log(`round ${round + 1} ${w.id} ${m}: ${l.inferencesPerSec} infer/s p50 ${(l.latencyUs.p50 / 1000).toFixed(2)} ms p99 ${(l.latencyUs.p99 / 1000).toFixed(2)} ms` +
            ` errors ${l.errorCount} (server ${l.processCpuPct.osprey ?? '?'}%, other programs ${l.foreignCpuPct ?? '?'}%)`);
        }
      }
    }
  } finally {
    await target.stop();
  }

  const whats = ['ceiling-b1', 'ceiling-best', ...WIRES.map((w) => w.id)];
  const summary: Record<string, Record<Model, { rowsPerSec: number; vsFp32: number; p99Ms?: number }>> = {};
  log(`\nmedian rows/s over ${ROUNDS} rounds (ratio to FP32 in the same rounds):`);
  log('  what          | cnn (FP32)      | cnn_int8        | cnn_fp16');
  for (const w of whats) {
    const row = {} as Record<Model, { rowsPerSec: number; vsFp32: number; p99Ms?: number }>;
    const fp32 = median(samples.filter((s) => s.what === w && s.model === 'cnn').map((s) => s.rowsPerSec));
    for (const m of MODELS) {
      const mine = samples.filter((s) => s.what === w && s.model === m);
      const rows = median(mine.map((s) => s.rowsPerSec));
      const p99 = median(mine.map((s) => s.p99Ms ?? NaN));
      row[m] = { rowsPerSec: rows, vsFp32: Number((rows / fp32).toFixed(2)), ...(Number.isFinite(p99) ? { p99Ms: Number(p99.toFixed(2)) } : {}) };
    }
    summary[w] = row;
    log(`  ${w.padEnd(13)} | ${MODELS.map((m) => `${String(row[m].rowsPerSec).padStart(6)} (${row[m].vsFp32.toFixed(2)}x)`.padEnd(15)).join(' | ')}`);
  }
  const other = median(samples.map((s) => s.otherCpuPct ?? NaN));
  log(`other programs used a median ${other.toFixed(1)}% CPU (of ${cpus().length * 100}%) during the served levels; loadavg at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify({
    date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, loadavgEnd: loadavg(),
    settings: { rounds: ROUNDS, concurrency: CONCURRENCY, durationMs: DURATION_MS, images: IMAGES },
    accuracy, summary, otherProgramsCpuPctMedian: other, samples,
  }, null, 1)}\n`);
  log(`wrote ${OUT}`);
}

await main();
