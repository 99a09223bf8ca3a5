/**
 * Runs on a worker thread of the ORT ceiling: one session with one intra-op thread,
 * running back to back for the requested time at the requested batch size.
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { ModelInfo } from '../loadgen/types.js';
import { randomFeeds } from './ort-feeds.js';

const { onnxPath, info } = workerData as { onnxPath: string; info: ModelInfo };
const session = await ort.InferenceSession.create(onnxPath, {
  intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
});
const port = parentPort!;

/** This thread's CPU time in microseconds (/proc/thread-self: 10 ms ticks), or NaN off Linux. */
function threadCpuUs(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 1e4;
  } catch {
    return NaN;
  }
}
let feeds: Record<string, ort.Tensor> = {};

port.on('message', async (m: { cmd: 'arm'; batch: number } | { cmd: 'go'; durationMs: number }) => {
  if (m.cmd === 'arm') {
    feeds = randomFeeds(info, m.batch);
    for (let i = 0; i < 3; i++) await session.run(feeds); // warm-up
    port.postMessage({ armed: true });
    return;
  }
  let runs = 0;
  const c0 = threadCpuUs();
  const t0 = performance.now();
  const until = t0 + m.durationMs;
  while (performance.now() < until) {
    await session.run(feeds);
    runs++;
  }
  port.postMessage({ runs, ms: performance.now() - t0, cpuUs: threadCpuUs() - c0 });
});
port.postMessage({ ready: true });
