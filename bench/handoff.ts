/**
 * The executor's hand-off of a cnn batch, alone: Osprey's WorkerPool (two worker
 * threads, the bundled cnn loaded on each) driven directly, two runs in flight per
 * worker so neither waits for this thread, with the batch's rows given as they come
 * from binary HTTP bodies (12 KiB views at an odd offset of their own buffers). Modes
 * alternate round by round in one process:
 *
 *   slot  the pool's default slot size (a whole cnn batch goes through shared memory)
 *   port  64 KiB slots, the size before: batches over it are joined into a fresh
 *         buffer on the main thread and transferred by MessagePort
 *
 * Per mode: the main thread's CPU per batch (the hand-off: copies, port messages,
 * wake-ups, completions; nothing else runs on it), the two workers' CPU per row
 * against ONNX Runtime's own, rows/s. CPU from /proc/self/task.
 *
 *   npm run build && node dist/handoff.js [--rows 10] [--rounds 4] [--duration 4] [--modes slot,port]
 */
import { readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { arg } from './harness/args.js';
import { OSPREY_REPOSITORY, OSPREY_ROOT } from './harness/paths.js';
import { pidCpuUs } from './loadgen/cpu.js';
import { median } from './harness/median.js';

const ROWS = Number(arg('rows', '10'));
const ROUNDS = Number(arg('rounds', '4'));
const DURATION_MS = Number(arg('duration', '4')) * 1000;
const MODES = arg('modes', 'slot,port').split(',') as ('slot' | 'port')[];
const ROW_BYTES = 3 * 32 * 32 * 4;
/** Where the tensor starts in a binary HTTP body: after its JSON header (171 bytes for the cnn). */
const HEADER_BYTES = 171;

interface PoolLike {
  loadOn(threads: number[], spec: unknown): Promise<unknown>;
  run(thread: number, spec: unknown, inputs: unknown[], outputs: string[], o: { rows: number; largest: number }): Promise<unknown>;
  close(): Promise<void>;
}
type PoolCtor = new (workers: number, o?: { inlineBytes?: number }) => PoolLike;

const { WorkerPool } = await import(pathToFileURL(join(OSPREY_ROOT, 'dist/src/executor/pool.js')).href) as { WorkerPool: PoolCtor };
const settings = {
  intraOpThreads: 1, interOpThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  enableMemArena: true, enableMemPattern: true, providers: ['cpu'], soloIntraOpThreads: 0,
};
const spec = { key: 'cnn/1', path: join(OSPREY_REPOSITORY, 'cnn', '1', 'model.onnx'), settings };
const parts = Array.from({ length: ROWS }, (_, k) => {
  const b = Buffer.allocUnsafeSlow(HEADER_BYTES + ROW_BYTES);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + k) & 255;
  return b.subarray(HEADER_BYTES);
});
const inputs = [{ name: 'image', datatype: 'FP32', shape: [ROWS, 3, 32, 32], parts }];

function threadCpu(): Map<number, number> {
  const m = new Map<number, number>();
  for (const t of readdirSync('/proc/self/task')) m.set(Number(t), pidCpuUs(process.pid, Number(t)) ?? 0);
  return m;
}

async function measure(mode: 'slot' | 'port'): Promise<{ mainUsPerBatch: number; workerUsPerRow: number; rowsPerSec: number }> {
  const pool = new WorkerPool(2, mode === 'port' ? { inlineBytes: 64 * 1024 } : {});
  try {
    await pool.loadOn([0], spec);
    await pool.loadOn([1], spec);
    for (let i = 0; i < 4; i++) await pool.run(i & 1, spec, inputs, ['logits'], { rows: ROWS, largest: 1 });
    const c0 = threadCpu();
    const t0 = performance.now();
    let runs = 0;
    const lane = async (thread: number): Promise<void> => {
      while (performance.now() - t0 < DURATION_MS) {
        await pool.run(thread, spec, inputs, ['logits'], { rows: ROWS, largest: 1 });
        runs++;
      }
    };
    await Promise.all([lane(0), lane(1), lane(0), lane(1)]);
    const wallMs = performance.now() - t0;
    const c1 = threadCpu();
    const used = [...c1].map(([t, us]) => [t, us - (c0.get(t) ?? 0)] as const).sort((a, b) => b[1] - a[1]);
    const main = used.find(([t]) => t === process.pid)?.[1] ?? 0;
    const workers = used.filter(([t]) => t !== process.pid).slice(0, 2).reduce((a, [, us]) => a + us, 0);
    return {
      mainUsPerBatch: Math.round(main / runs),
      workerUsPerRow: Math.round(workers / runs / ROWS),
      rowsPerSec: Math.round((runs * ROWS * 1000) / wallMs),
    };
  } finally {
    await pool.close();
  }
}

const results = new Map<string, { mainUsPerBatch: number; workerUsPerRow: number; rowsPerSec: number }[]>();
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? MODES : [...MODES].reverse();
  for (const mode of order) {
    const r = await measure(mode);
    (results.get(mode) ?? results.set(mode, []).get(mode)!).push(r);
    process.stdout.write(`round ${round + 1} ${mode}: main ${r.mainUsPerBatch} us/batch of ${ROWS}, workers ${r.workerUsPerRow} us/row, ${r.rowsPerSec} rows/s, load ${loadavg()[0]!.toFixed(2)}\n`);
  }
}
for (const [mode, rs] of results) {
  process.stdout.write(`${mode}: median main ${median(rs.map((r) => r.mainUsPerBatch))} us/batch (${rs.map((r) => r.mainUsPerBatch).join(', ')}), ` +
    `workers ${median(rs.map((r) => r.workerUsPerRow))} us/row, ${median(rs.map((r) => r.rowsPerSec))} rows/s\n`);
}
