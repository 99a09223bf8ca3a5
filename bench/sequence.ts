/**
 * 64 concurrent sequences of batch-1 requests on the accumulator: the sequence
 * batcher's `direct` and `oldest` strategies against the same ONNX model served
 * without sequence batching (dynamic batching; the client sends START/READY and the
 * running state ACC_IN itself, as a stateless model needs).
 *
 * One Osprey process, one temporary repository with three models built from
 * model-repository/accumulator (2 CPU instances each):
 *   acc_direct  sequence_batching direct, max_batch_size 32 (64 slots)
 *   acc_oldest  sequence_batching oldest, 32 candidates per instance, preferred 32
 *   acc_plain   no sequence batching, dynamic_batching {}, max_batch_size 32
 * 64 closed loops (one HTTP connection each) each run sequences of LENGTH requests
 * (START on the first, END on the last), then start the next with a new id. Rounds
 * alternate the order of the three modes; each reports throughput and p50/p90/p99.
 *
 *   npm run build && node dist/sequence.js [--sequences 64] [--length 10]
 *     [--rounds 2] [--duration-ms 3000] [--warmup-ms 500] [--out bench/results/sequence.json]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arg } from './harness/args.js';
import { writeResultsJson } from './harness/write-json.js';
import { freePort } from './harness/ports.js';
import { Histogram } from './loadgen/histogram.js';
import { HttpClient, buildHttpRequest } from './loadgen/http-client.js';
import { BENCH_ROOT, OSPREY_MAIN, OSPREY_REPOSITORY } from './harness/paths.js';
import { median } from './harness/median.js';

const SEQUENCES = Number(arg('sequences', '64'));
const LENGTH = Number(arg('length', '10'));
const ROUNDS = Number(arg('rounds', '2'));
const DURATION_MS = Number(arg('duration-ms', '3000'));
const WARMUP_MS = Number(arg('warmup-ms', '500'));
const OUT = arg('out', join(BENCH_ROOT, 'results/sequence.json'));

type Mode = 'direct' | 'oldest' | 'plain';
const MODES: Mode[] = ['direct', 'oldest', 'plain'];

function makeRepo(): string {
  const repo = mkdtempSync(join(tmpdir(), 'osprey-seq-bench-'));
  const src = join(OSPREY_REPOSITORY, 'accumulator');
  const base = readFileSync(join(src, 'config.pbtxt'), 'utf8').replace('max_batch_size: 4', 'max_batch_size: 32');
  const configs: Record<Mode, string> = {
    direct: base.replace('name: "accumulator"', 'name: "acc_direct"'),
    oldest: base.replace('name: "accumulator"', 'name: "acc_oldest"')
      .replace('direct { }', 'oldest { max_candidate_sequences: 32 preferred_batch_size: [ 32 ] }'),
    plain: `name: "acc_plain"
platform: "onnxruntime_onnx"
max_batch_size: 32
dynamic_batching { }
instance_group [ { kind: KIND_CPU count: 2 } ]
`,
  };
  for (const m of MODES) {
    cpSync(join(src, '1'), join(repo, `acc_${m}`, '1'), { recursive: true });
    writeFileSync(join(repo, `acc_${m}`, 'config.pbtxt'), configs[m]);
  }
  return repo;
}

interface Server { proc: ChildProcess; http: number; repo: string }

async function startServer(): Promise<Server> {
  const repo = makeRepo();
  const [http, grpc] = [await freePort(), await freePort()];
  const proc = spawn(process.execPath, [
    OSPREY_MAIN, '--model-repository', repo,
    '--http-port', String(http), '--grpc-port', String(grpc), '--allow-metrics', 'false', '--log-info', 'false',
    '--http-address', '127.0.0.1', '--grpc-address', '127.0.0.1',
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 600; i++) {
    try {
      const ready = await Promise.all(MODES.map((m) => fetch(`http://127.0.0.1:${http}/v2/models/acc_${m}/ready`)));
      if (ready.every((r) => r.status === 200)) return { proc, http, repo };
    } catch { /* not listening yet */ }
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not become ready');
}

let nextId = 1;

/** The k-th request (0-based) of a sequence, as the mode needs it. */
function request(host: string, mode: Mode, id: number, k: number, value: number, sum: number): Buffer {
  const start = k === 0;
  const end = k === LENGTH - 1;
  let doc: object;
  if (mode === 'plain') {
    // Stateless: the client carries the state and the controls itself.
    doc = {
      inputs: [
        { name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [value] },
        { name: 'START', datatype: 'INT32', shape: [1, 1], data: [start ? 1 : 0] },
        { name: 'READY', datatype: 'INT32', shape: [1, 1], data: [1] },
        { name: 'ACC_IN', datatype: 'INT32', shape: [1, 1], data: [sum] },
      ],
      outputs: [{ name: 'OUTPUT' }],
    };
  } else {
    const parameters: Record<string, unknown> = { sequence_id: id };
    if (start) parameters.sequence_start = true;
    if (end) parameters.sequence_end = true;
    doc = { parameters, inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [value] }] };
  }
  return buildHttpRequest(host, `/v2/models/acc_${mode}/infer`, { 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify(doc)));
}

interface RunResult { mode: Mode; round: number; inferPerSec: number; requests: number; errors: number; p50Us: number; p90Us: number; p99Us: number }

async function drive(srv: Server, mode: Mode, round: number): Promise<RunResult> {
  const host = `127.0.0.1:${srv.http}`;
  const client = new HttpClient(host, SEQUENCES);
  const hist = new Histogram();
  let measuring = false;
  let running = true;
  let ok = 0;
  let errors = 0;
  let active = SEQUENCES;
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((r) => { allDone = r; });
  // One closed loop per concurrent sequence; a loop ends only between sequences so no
  // sequence is left open on the server (its slot would wait for the idle timeout).
  const loop = (id: number, k: number, sum: number): void => {
    if (k === 0 && !running) { if (--active === 0) allDone(); return; }
    const value = (id % 7) + k;
    const t0 = performance.now();
    client.send(request(host, mode, id, k, value, sum), (err) => {
      if (measuring) {
        if (err === null) { ok++; hist.record((performance.now() - t0) * 1000); } else errors++;
      }
      if (k + 1 < LENGTH) loop(id, k + 1, k === 0 ? value : sum + value);
      else loop(nextId++, 0, 0);
    });
  };
  for (let i = 0; i < SEQUENCES; i++) loop(nextId++, 0, 0);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, DURATION_MS));
  measuring = false;
  const secs = (performance.now() - t0) / 1000;
  running = false;
  await done;
  client.close();
  const us = (q: number) => Math.round(hist.quantile(q));
  return { mode, round, inferPerSec: Math.round(ok / secs), requests: ok, errors, p50Us: us(0.5), p90Us: us(0.9), p99Us: us(0.99) };
}

async function main(): Promise<void> {
  const srv = await startServer();
  const runs: RunResult[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? MODES : [...MODES].reverse();
      for (const mode of order) {
        const r = await drive(srv, mode, round);
        runs.push(r);
        console.log(`round ${round + 1} ${mode.padEnd(6)}: ${r.inferPerSec} infer/s, p50 ${r.p50Us} us, p90 ${r.p90Us} us, p99 ${r.p99Us} us, errors ${r.errors}`);
      }
    }
    const summary = MODES.map((mode) => {
      const rs = runs.filter((r) => r.mode === mode);
      return {
        mode, inferPerSec: median(rs.map((r) => r.inferPerSec)), p50Us: median(rs.map((r) => r.p50Us)),
        p90Us: median(rs.map((r) => r.p90Us)), p99Us: median(rs.map((r) => r.p99Us)), errors: rs.reduce((a, r) => a + r.errors, 0),
      };
    });
    const plain = summary.find((s) => s.mode === 'plain')!;
    console.log(`\n${SEQUENCES} concurrent sequences of ${LENGTH} requests, median over ${ROUNDS} rounds of ${DURATION_MS} ms:`);
    console.log('  mode   | infer/s | vs plain | p50 us | p90 us | p99 us | errors');
    for (const s of summary) {
      console.log(`  ${s.mode.padEnd(6)} | ${String(s.inferPerSec).padStart(7)} | ${(s.inferPerSec / plain.inferPerSec).toFixed(2).padStart(8)} | ${String(s.p50Us).padStart(6)} | ${String(s.p90Us).padStart(6)} | ${String(s.p99Us).padStart(6)} | ${s.errors}`);
    }
    writeResultsJson(OUT, {
      options: { sequences: SEQUENCES, length: LENGTH, rounds: ROUNDS, durationMs: DURATION_MS, warmupMs: WARMUP_MS },
      summary, runs,
    });
  } finally {
    srv.proc.kill('SIGTERM');
    rmSync(srv.repo, { recursive: true, force: true });
  }
}

void main();
