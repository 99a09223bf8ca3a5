#!/usr/bin/env node
/**
 * Baseline (b), the in-process ONNX Runtime ceiling: rows/s from running the model
 * directly, one worker thread per core, each session with one intra-op thread, at
 * each batch size of a small sweep; the best is the ceiling no server on this machine
 * can beat (it pays for no protocol, no copies, no scheduling).
 *   node dist/baselines/ort-ceiling.js -m cnn [--model-repository ../model-repository]
 *     [--batch-sizes 1,4,16,32] [--workers N] [--duration-ms 1500] [--json]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { OSPREY_REPOSITORY } from '../harness/paths.js';
import { loadModelSpec, metadataOf } from './model-spec.js';

export interface CeilingPoint {
  batch: number;
  rowsPerSec: number;
  msPerRun: number;
  /** CPU the session threads used per row (the run's thread; with one intra-op thread ONNX Runtime computes there): robust to a busy machine, unlike rows/s. */
  cpuUsPerRow?: number;
}

export interface CeilingResult {
  model: string;
  workers: number;
  intraOpThreads: 1;
  durationMs: number;
  sweep: CeilingPoint[];
  best: CeilingPoint;
}

function defaultBatches(max: number): number[] {
  if (max <= 0) return [1];
  return [...new Set([1, 4, 16, max].filter((b) => b <= max))];
}

export async function measureCeiling(repo: string, model: string, opts: { batches?: number[]; workers?: number; durationMs?: number } = {}): Promise<CeilingResult> {
  const spec = loadModelSpec(repo, model);
  const info = { ...metadataOf(spec), maxBatchSize: spec.maxBatchSize };
  const n = opts.workers ?? os.availableParallelism();
  const durationMs = opts.durationMs ?? 1500;
  const url = new URL('./ort-ceiling-worker.js', import.meta.url);
  const workers = Array.from({ length: n }, () => new Worker(url, { workerData: { onnxPath: spec.onnxPath, info } }));
  try {
    await Promise.all(workers.map((w) => once(w, 'message')));
    const sweep: CeilingPoint[] = [];
    for (const batch of opts.batches ?? defaultBatches(spec.maxBatchSize)) {
      await Promise.all(workers.map((w) => { w.postMessage({ cmd: 'arm', batch }); return once(w, 'message'); }));
      const replies = await Promise.all(workers.map((w) => { w.postMessage({ cmd: 'go', durationMs }); return once(w, 'message'); }));
      const res = replies.map(([r]) => r as { runs: number; ms: number; cpuUs: number });
      const rowsPerSec = res.reduce((a, r) => a + (r.runs * batch * 1000) / r.ms, 0);
      const msPerRun = res.reduce((a, r) => a + r.ms / Math.max(1, r.runs), 0) / res.length;
      const rows = res.reduce((a, r) => a + r.runs * batch, 0);
      const cpuUsPerRow = res.reduce((a, r) => a + r.cpuUs, 0) / Math.max(1, rows);
      sweep.push({ batch, rowsPerSec: Math.round(rowsPerSec), msPerRun: Math.round(msPerRun * 1000) / 1000, ...(Number.isFinite(cpuUsPerRow) ? { cpuUsPerRow: Math.round(cpuUsPerRow) } : {}) });
    }
    const best = sweep.reduce((a, b) => (b.rowsPerSec > a.rowsPerSec ? b : a));
    return { model, workers: n, intraOpThreads: 1, durationMs, sweep, best };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      'model-name': { type: 'string', short: 'm' },
      'model-repository': { type: 'string', default: OSPREY_REPOSITORY },
      'batch-sizes': { type: 'string' },
      workers: { type: 'string' },
      'duration-ms': { type: 'string', default: '1500' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!v['model-name']) throw new Error('missing -m/--model-name');
  const r = await measureCeiling(v['model-repository']!, v['model-name'], {
    batches: v['batch-sizes']?.split(',').map(Number),
    workers: v.workers ? Number(v.workers) : undefined,
    durationMs: Number(v['duration-ms']),
  });
  if (v.json) return void process.stdout.write(`${JSON.stringify(r)}\n`);
  process.stdout.write(`${r.model}: ${r.workers} workers x 1 intra-op thread\n`);
  for (const p of r.sweep) process.stdout.write(`  batch ${p.batch}: ${p.rowsPerSec} rows/s (${p.msPerRun} ms/run${p.cpuUsPerRow === undefined ? '' : `, ${p.cpuUsPerRow} us CPU/row`})\n`);
  process.stdout.write(`  ceiling: ${r.best.rowsPerSec} rows/s at batch ${r.best.batch}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: Error) => {
    process.stderr.write(`ort-ceiling: ${e.message}\n`);
    process.exit(1);
  });
}
