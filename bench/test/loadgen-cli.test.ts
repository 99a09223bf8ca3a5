/** The CLI end to end (JSON, CSV with perf_analyzer's columns) and perf_analyzer's input-data format. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildInputSteps } from '../loadgen/input-data.js';
import { httpDelayServer, META } from './delay-servers.js';

const CLI = fileURLToPath(new URL('../loadgen/cli.js', import.meta.url));

test('perf_analyzer JSON input data: flat, {content, shape} and {b64} entries, repeated per batch', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-data-'));
  try {
    const file = join(dir, 'data.json');
    const b64 = Buffer.from(new Float32Array([5, 6, 7, 8]).buffer).toString('base64');
    writeFileSync(file, JSON.stringify({ data: [{ x: [1, 2, 3, 4] }, { x: { content: [[1, 1], [2, 2]], shape: [4] } }, { x: { b64 } }] }));
    const steps = buildInputSteps({ ...META, maxBatchSize: 8 }, { batchSize: 2, inputData: file });
    assert.equal(steps.length, 3);
    assert.deepEqual(steps[0][0].shape, [2, 4]);
    assert.deepEqual(steps[0][0].values, [1, 2, 3, 4, 1, 2, 3, 4]);
    assert.deepEqual(steps[1][0].values, [1, 1, 2, 2, 1, 1, 2, 2]);
    assert.deepEqual(steps[2][0].values.slice(0, 4), [5, 6, 7, 8]);
    assert.deepEqual([...new Float32Array(new Uint8Array(steps[2][0].raw).buffer)], [5, 6, 7, 8, 5, 6, 7, 8]);
    assert.throws(() => buildInputSteps({ ...META, maxBatchSize: 8 }, { batchSize: 16, inputData: 'zero' }), /exceeds max_batch_size 8/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI writes JSON and a perf_analyzer-compatible CSV', async () => {
  const srv = await httpDelayServer(5);
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-cli-'));
  try {
    await promisify(execFile)(process.execPath, [CLI, '-m', 'delay', '-u', srv.hostPort, '--binary', '--concurrency-range', '1:2',
      '--warmup-ms', '50', '-p', '200', '-r', '1', '-q', '--json', join(dir, 'r.json'), '--csv', join(dir, 'r.csv')]);
    const csv = readFileSync(join(dir, 'r.csv'), 'utf8').trim().split('\n');
    assert.ok(csv[0].startsWith('Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,p50 latency,p90 latency,p95 latency,p99 latency'));
    assert.deepEqual(csv.slice(1).map((l) => l.split(',')[0]), ['1', '2']);
    const r = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
    assert.equal(r.wire, 'http-binary');
    assert.equal(r.levels.length, 2);
    assert.ok(r.levels.every((l: { requests: number; errorCount: number }) => l.requests > 0 && l.errorCount === 0));
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
