/**
 * The in-process ORT ceiling (baselines/ort-ceiling.ts) on the shipped cnn: rows/s
 * and the CPU its ONNX Runtime threads used per row. The CPU figure is what makes a
 * ceiling sample comparable with a served run on a busy machine (bench/cnn-served.ts
 * sets the server's worker CPU per row beside it), so it must be present and
 * plausible: each worker's own thread time, not the process's or the wall clock's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureCeiling } from '../baselines/ort-ceiling.js';
import { OSPREY_REPOSITORY } from '../harness/paths.js';

test('ceiling: rows/s and ONNX Runtime CPU per row for each batch size', async () => {
  const durationMs = 400;
  const r = await measureCeiling(OSPREY_REPOSITORY, 'cnn', { batches: [1, 8], workers: 2, durationMs });
  assert.deepEqual(r.sweep.map((p) => p.batch), [1, 8]);
  for (const p of r.sweep) {
    assert.ok(p.rowsPerSec > 0, `batch ${p.batch}: ${p.rowsPerSec} rows/s`);
    assert.ok(p.cpuUsPerRow !== undefined, `batch ${p.batch}: no CPU per row`);
    // A cnn row costs ~0.75 ms of one core here. Thread CPU can never exceed the
    // wall time the two workers spent per row (2 threads x wall / rows), and a
    // figure near 0 would mean the reading missed the thread that computes.
    // Thread CPU is read in 10 ms ticks: up to 2 x 10 ms off over the run's rows.
    const wallUsPerRowTwoThreads = (2 * 1e6) / p.rowsPerSec;
    const tickUsPerRow = 20_000 / ((p.rowsPerSec * durationMs) / 1000);
    assert.ok(p.cpuUsPerRow! > 50, `batch ${p.batch}: ${p.cpuUsPerRow} us CPU per row is implausibly low`);
    assert.ok(p.cpuUsPerRow! <= wallUsPerRowTwoThreads * 1.05 + tickUsPerRow,
      `batch ${p.batch}: ${p.cpuUsPerRow} us CPU per row exceeds the workers' wall time per row (${wallUsPerRowTwoThreads.toFixed(0)} us)`);
  }
});
