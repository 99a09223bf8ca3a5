/**
 * Primary latency with a 100% shadow on against off, in one run.
 *
 * Starts one Osprey process on a temporary copy of the bundled `tabular` model with
 * a version 2 (the same graph, so every shadow answer is compared in full) and
 * `version_policy: all`. The traffic policy is switched through the admin endpoint
 * between rounds: "off" routes every request to v1; "on" does the same and
 * shadows every request to v2 (`fraction: 1`). Same process, same model, same
 * route: the only difference is the shadow. For each concurrency level, rounds
 * alternate which mode goes first; each reports the primary's p50/p90/p99/p99.9
 * and throughput (closed loop, HTTP/JSON, batch-1 requests), the server's CPU per
 * request, and for "on" how many shadows ran, were dropped as busy, and compared.
 *
 *   npm run build && node dist/shadow.js [--concurrency 1,8,32] [--rounds 3]
 *     [--duration-ms 3000] [--warmup-ms 500] [--worker-threads 0]
 *     [--out bench/results/tmp/shadow.json]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './harness/ports.js';
import { pidCpuUs } from './loadgen/cpu.js';
import { Histogram } from './loadgen/histogram.js';
import { HttpClient, buildHttpRequest } from './loadgen/http-client.js';
import { arg } from './harness/args.js';
import { writeResultsJson } from './harness/write-json.js';
import { BENCH_ROOT, OSPREY_MAIN, OSPREY_REPOSITORY } from './harness/paths.js';
import { median } from './harness/median.js';


const LEVELS = arg('concurrency', '1,8,32').split(',').map(Number);
const ROUNDS = Number(arg('rounds', '3'));
const DURATION_MS = Number(arg('duration-ms', '3000'));
const WARMUP_MS = Number(arg('warmup-ms', '500'));
const WORKERS = arg('worker-threads', '0');
const OUT = arg('out', join(BENCH_ROOT, 'results/tmp/shadow.json'));
const MODEL = 'tabular';

type Mode = 'off' | 'on';
const POLICY: Record<Mode, object> = {
  off: { routes: [{ version: 1, weight: 1 }] },
  on: { routes: [{ version: 1, weight: 1 }], shadows: [{ version: 2, fraction: 1 }] },
};

interface Server { proc: ChildProcess; http: number; repo: string }

/** tabular with versions 1 and 2 (a copy of 1), both served. */
function makeRepo(): string {
  const repo = mkdtempSync(join(tmpdir(), 'osprey-shadow-bench-'));
  const src = join(OSPREY_REPOSITORY, MODEL);
  const dst = join(repo, MODEL);
  cpSync(src, dst, { recursive: true });
  cpSync(join(src, '1'), join(dst, '2'), { recursive: true });
  const cfg = readFileSync(join(dst, 'config.pbtxt'), 'utf8').replace(/version_policy:.*\n/, '');
  writeFileSync(join(dst, 'config.pbtxt'), `${cfg}version_policy: { all: {} }\n`);
  return repo;
}

async function startServer(): Promise<Server> {
  const repo = makeRepo();
  const [http, grpc] = [await freePort(), await freePort()];
  const proc = spawn(process.execPath, [
    OSPREY_MAIN, '--model-repository', repo, '--worker-threads', WORKERS,
    '--http-port', String(http), '--grpc-port', String(grpc), '--allow-metrics', 'false', '--log-info', 'false',
    '--http-address', '127.0.0.1', '--grpc-address', '127.0.0.1',
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 600; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${http}/v2/models/${MODEL}/versions/2/ready`);
      if (r.status === 200) return { proc, http, repo };
    } catch { /* not listening yet */ }
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not become ready');
}

async function admin(srv: Server, method: 'GET' | 'PUT', body?: object): Promise<any> {
  const r = await fetch(`http://127.0.0.1:${srv.http}/v2/models/${MODEL}/traffic`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await r.json();
  if (r.status !== 200) throw new Error(`traffic admin ${method}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/** Standard normal rows, fixed seed: both modes send the same requests. */
function payloads(count: number, hostPort: string): Buffer[] {
  let s = 12345;
  const u = (): number => { s = (s * 1103515245 + 12345) & 0x7fffffff; return (s + 1) / 0x80000001; };
  const out: Buffer[] = [];
  for (let k = 0; k < count; k++) {
    const data: number[] = [];
    for (let i = 0; i < 64; i++) data.push(Number((Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u())).toFixed(4)));
    const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 64], data }] }));
    out.push(buildHttpRequest(hostPort, `/v2/models/${MODEL}/infer`, { 'Content-Type': 'application/json' }, body));
  }
  return out;
}

interface ShadowCounts { submitted: number; busy: number; compared: number; failed: number }

function shadowCounts(state: any): ShadowCounts {
  const p = (state.shadows as any[]).find((x) => x.primary === 1 && x.shadow === 2);
  return p === undefined ? { submitted: 0, busy: 0, compared: 0, failed: 0 }
    : { submitted: p.submitted, busy: p.dropped.busy, compared: p.compared, failed: p.failed };
}

interface RunResult {
  mode: Mode; concurrency: number; round: number; inferPerSec: number; requests: number; errors: number;
  p50Us: number; p90Us: number; p99Us: number; p999Us: number; cpuUsPerReq: number | null;
  shadows: ShadowCounts;
}

async function drive(srv: Server, mode: Mode, concurrency: number, round: number): Promise<RunResult> {
  await admin(srv, 'PUT', POLICY[mode]);
  const host = `127.0.0.1:${srv.http}`;
  const reqs = payloads(64, host);
  const client = new HttpClient(host, concurrency);
  const hist = new Histogram();
  let measuring = false;
  let running = true;
  let ok = 0;
  let errors = 0;
  let step = 0;
  const issue = (): void => {
    const t0 = performance.now();
    client.send(reqs[step++ & 63]!, (err) => {
      if (measuring) {
        if (err === null) { ok++; hist.record((performance.now() - t0) * 1000); } else errors++;
      }
      if (running) issue();
    });
  };
  for (let i = 0; i < concurrency; i++) issue();
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const before = shadowCounts(await admin(srv, 'GET'));
  measuring = true;
  const cpu0 = pidCpuUs(srv.proc.pid!);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, DURATION_MS));
  measuring = false;
  const secs = (performance.now() - t0) / 1000;
  const cpu1 = pidCpuUs(srv.proc.pid!);
  running = false;
  await new Promise((r) => setTimeout(r, 200));
  client.close();
  const after = shadowCounts(await admin(srv, 'GET'));
  const us = (q: number) => Math.round(hist.quantile(q));
  return {
    mode, concurrency, round, inferPerSec: Math.round(ok / secs), requests: ok, errors,
    p50Us: us(0.5), p90Us: us(0.9), p99Us: us(0.99), p999Us: us(0.999),
    cpuUsPerReq: cpu0 === null || cpu1 === null || ok === 0 ? null : Math.round((cpu1 - cpu0) / ok),
    shadows: {
      submitted: after.submitted - before.submitted, busy: after.busy - before.busy,
      compared: after.compared - before.compared, failed: after.failed - before.failed,
    },
  };
}

async function main(): Promise<void> {
  const srv = await startServer();
  const runs: RunResult[] = [];
  const summary: any[] = [];
  try {
    for (const c of LEVELS) {
      for (let round = 0; round < ROUNDS; round++) {
        for (const mode of (round % 2 === 0 ? ['off', 'on'] : ['on', 'off']) as Mode[]) {
          const r = await drive(srv, mode, c, round);
          runs.push(r);
          const sh = mode === 'on' ? `, shadows ran ${r.shadows.submitted} dropped(busy) ${r.shadows.busy} compared ${r.shadows.compared}` : '';
          console.log(`c=${c} round ${round + 1} ${mode.padEnd(3)}: ${r.inferPerSec} infer/s, p50 ${r.p50Us} us, p99 ${r.p99Us} us, p99.9 ${r.p999Us} us, errors ${r.errors}, CPU/request ${r.cpuUsPerReq} us${sh}`);
        }
      }
      const pick = (mode: Mode) => runs.filter((r) => r.concurrency === c && r.mode === mode);
      const s = (mode: Mode) => {
        const rs = pick(mode);
        const sh = rs.reduce((a, r) => ({ submitted: a.submitted + r.shadows.submitted, busy: a.busy + r.shadows.busy, requests: a.requests + r.requests }), { submitted: 0, busy: 0, requests: 0 });
        return {
          inferPerSec: median(rs.map((r) => r.inferPerSec)), p50Us: median(rs.map((r) => r.p50Us)), p90Us: median(rs.map((r) => r.p90Us)),
          p99Us: median(rs.map((r) => r.p99Us)), p999Us: median(rs.map((r) => r.p999Us)), cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq ?? NaN)),
          shadowedShare: sh.requests > 0 ? Number((sh.submitted / sh.requests).toFixed(3)) : 0,
          droppedShare: sh.requests > 0 ? Number((sh.busy / sh.requests).toFixed(3)) : 0,
        };
      };
      const off = s('off');
      const on = s('on');
      summary.push({ concurrency: c, off, on, p50Ratio: Number((on.p50Us / off.p50Us).toFixed(3)), p99Ratio: Number((on.p99Us / off.p99Us).toFixed(3)) });
    }
    console.log(`\nprimary latency, median over ${ROUNDS} rounds of ${DURATION_MS} ms (us):`);
    console.log('  conc | off p50 | on p50 | off p99 | on p99 | p99 on/off | off infer/s | on infer/s | shadowed | dropped busy');
    for (const r of summary) {
      console.log(`  ${String(r.concurrency).padStart(4)} | ${String(r.off.p50Us).padStart(7)} | ${String(r.on.p50Us).padStart(6)} | ${String(r.off.p99Us).padStart(7)} | ${String(r.on.p99Us).padStart(6)} | ${String(r.p99Ratio).padStart(10)} | ${String(r.off.inferPerSec).padStart(11)} | ${String(r.on.inferPerSec).padStart(10)} | ${(r.on.shadowedShare * 100).toFixed(1).padStart(7)}% | ${(r.on.droppedShare * 100).toFixed(1).padStart(11)}%`);
    }
    const final = await admin(srv, 'GET');
    const pair = (final.shadows as any[]).find((x) => x.primary === 1 && x.shadow === 2);
    console.log(`\nshadow comparison over the run: compared ${pair?.compared}, exact match rate ${pair?.exact_match_rate}, failed ${pair?.failed}`);
    writeResultsJson(OUT, {
      options: { levels: LEVELS, rounds: ROUNDS, durationMs: DURATION_MS, warmupMs: WARMUP_MS, workers: WORKERS, model: MODEL },
      summary, runs, comparison: pair ?? null,
    });
  } finally {
    srv.proc.kill('SIGTERM');
    rmSync(srv.repo, { recursive: true, force: true });
  }
}

void main();
