/**
 * Throughput with metrics and drift statistics on against off, in one run.
 *
 * Starts two Osprey processes serving the bundled `tabular` model: "on" with the
 * defaults (metrics endpoint, per-version series, drift on every row of `features`
 * and `score`, scraped every --scrape-ms while loaded) and "off" with
 * `--allow-metrics false` (no registry, no sink, no drift). Drives HTTP/JSON load
 * (closed loop, --concurrency outstanding requests of --rows rows each) at each in
 * turn for --rounds rounds, alternating which goes first, and reports the median
 * throughput and latency of each and the on/off ratio, plus the server CPU time
 * per request (main thread and all threads, from /proc): throughput swings when
 * other work shares the machine, CPU per request much less.
 *
 *   npm run build && node dist/obs-overhead.js [--rounds 4] [--duration-ms 10000]
 *     [--warmup-ms 1000] [--concurrency 16] [--rows 1] [--scrape-ms 5000]
 *     [--worker-threads 0] [--out bench/results/obs-overhead.json]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './harness/ports.js';
import { pidCpuUs } from './loadgen/cpu.js';
import { HttpClient, buildHttpRequest } from './loadgen/http-client.js';
import { arg } from './harness/args.js';
import { writeResultsJson } from './harness/write-json.js';
import { BENCH_ROOT, OSPREY_MAIN, OSPREY_REPOSITORY } from './harness/paths.js';
import { median } from './harness/median.js';


const ROUNDS = Number(arg('rounds', '4'));
const DURATION_MS = Number(arg('duration-ms', '10000'));
const WARMUP_MS = Number(arg('warmup-ms', '1000'));
const CONCURRENCY = Number(arg('concurrency', '16'));
const ROWS = Number(arg('rows', '1'));
const SCRAPE_MS = Number(arg('scrape-ms', '5000'));
const WORKERS = arg('worker-threads', '0');
const OUT = arg('out', join(BENCH_ROOT, 'results/obs-overhead.json'));

interface Server { name: string; proc: ChildProcess; http: number; metrics: number }

async function startServer(name: string, extra: string[]): Promise<Server> {
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  const proc = spawn(process.execPath, [
    OSPREY_MAIN, '--model-repository', OSPREY_REPOSITORY,
    '--model-control-mode', 'explicit', '--load-model', 'tabular', '--worker-threads', WORKERS,
    '--http-port', String(http), '--grpc-port', String(grpc), '--metrics-port', String(metrics),
    '--http-address', '127.0.0.1', '--grpc-address', '127.0.0.1', '--metrics-address', '127.0.0.1', ...extra,
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 600; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${http}/v2/models/tabular/ready`);
      if (r.status === 200) return { name, proc, http, metrics };
    } catch { /* not listening yet */ }
    if (proc.exitCode !== null) throw new Error(`${name} server exited with ${proc.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} server did not become ready`);
}

/** Standard normal rows, fixed seed, so both servers see the same requests. */
function payloads(count: number, hostPort: string): Buffer[] {
  let s = 12345;
  const u = (): number => { s = (s * 1103515245 + 12345) & 0x7fffffff; return (s + 1) / 0x80000001; };
  const out: Buffer[] = [];
  for (let k = 0; k < count; k++) {
    const data: number[] = [];
    for (let i = 0; i < ROWS * 64; i++) data.push(Number((Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u())).toFixed(4)));
    const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [ROWS, 64], data }] }));
    out.push(buildHttpRequest(hostPort, '/v2/models/tabular/infer', { 'Content-Type': 'application/json' }, body));
  }
  return out;
}

interface RunResult {
  server: string; inferPerSec: number; requests: number; errors: number; p50Us: number; p99Us: number; scrapes: number;
  /** Server CPU per request, microseconds: the main (event-loop) thread, and all threads. */
  mainCpuUsPerReq: number | null; cpuUsPerReq: number | null;
}

/** CPU microseconds of a process's main thread (its event loop), from /proc; null off Linux. */
function mainThreadCpuUs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100;
  } catch {
    return null;
  }
}

async function drive(srv: Server): Promise<RunResult> {
  const host = `127.0.0.1:${srv.http}`;
  const reqs = payloads(64, host);
  const client = new HttpClient(host, CONCURRENCY);
  let measuring = false;
  let running = true;
  let ok = 0;
  let errors = 0;
  const lat: number[] = [];
  let step = 0;
  const issue = (): void => {
    const t0 = performance.now();
    client.send(reqs[step++ & 63]!, (err) => {
      if (measuring) {
        if (err === null) { ok++; lat.push(performance.now() - t0); } else errors++;
      }
      if (running) issue();
    });
  };
  for (let i = 0; i < CONCURRENCY; i++) issue();
  let scrapes = 0;
  const scrapeOnce = (): void => {
    void fetch(`http://127.0.0.1:${srv.metrics}/metrics`).then((r) => r.text()).then(() => { scrapes++; }, () => undefined);
  };
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  // Scrapes start with the measurement: one at once, then every SCRAPE_MS.
  const scrape = srv.metrics > 0 && SCRAPE_MS > 0;
  if (scrape) scrapeOnce();
  const scraper = scrape ? setInterval(scrapeOnce, SCRAPE_MS) : undefined;
  measuring = true;
  const pid = srv.proc.pid!;
  const main0 = mainThreadCpuUs(pid);
  const all0 = pidCpuUs(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, DURATION_MS));
  measuring = false;
  const secs = (performance.now() - t0) / 1000;
  const main1 = mainThreadCpuUs(pid);
  const all1 = pidCpuUs(pid);
  const perReq = (a: number | null, b: number | null): number | null => (a === null || b === null || ok === 0 ? null : Math.round((b - a) / ok));
  running = false;
  if (scraper !== undefined) clearInterval(scraper);
  await new Promise((r) => setTimeout(r, 200));
  client.close();
  lat.sort((a, b) => a - b);
  const q = (p: number): number => Math.round((lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN) * 1000);
  return { server: srv.name, inferPerSec: Math.round((ok * ROWS) / secs), requests: ok, errors, p50Us: q(0.5), p99Us: q(0.99), scrapes, mainCpuUsPerReq: perReq(main0, main1), cpuUsPerReq: perReq(all0, all1) };
}

async function main(): Promise<void> {
  const on = await startServer('on', []);
  const off = await startServer('off', ['--allow-metrics', 'false']);
  off.metrics = -1;
  const runs: RunResult[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const srv of round % 2 === 0 ? [on, off] : [off, on]) {
        const r = await drive(srv);
        runs.push(r);
        console.log(`round ${round + 1} ${r.server.padEnd(3)}: ${r.inferPerSec} infer/s, p50 ${r.p50Us} us, p99 ${r.p99Us} us, errors ${r.errors}, scrapes ${r.scrapes}, server CPU/request: main thread ${r.mainCpuUsPerReq} us, all ${r.cpuUsPerReq} us`);
      }
    }
    // The drift statistics the "on" server kept, to show it really computed them.
    const text = await (await fetch(`http://127.0.0.1:${on.metrics}/metrics`)).text();
    const psi = text.split('\n').filter((l) => l.startsWith('osprey_drift_psi{')).length;
    const summary = (name: string) => {
      const rs = runs.filter((r) => r.server === name);
      return {
        inferPerSec: median(rs.map((r) => r.inferPerSec)), p50Us: median(rs.map((r) => r.p50Us)), p99Us: median(rs.map((r) => r.p99Us)),
        mainCpuUsPerReq: median(rs.map((r) => r.mainCpuUsPerReq ?? NaN)), cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq ?? NaN)),
      };
    };
    const sOn = summary('on');
    const sOff = summary('off');
    const ratio = Number((sOn.inferPerSec / sOff.inferPerSec).toFixed(3));
    const cpuRatio = Number((sOn.mainCpuUsPerReq / sOff.mainCpuUsPerReq).toFixed(3));
    console.log(`\nmedian over ${ROUNDS} rounds, concurrency ${CONCURRENCY}, ${ROWS} row(s) per request:`);
    const line = (s: typeof sOn): string => `${s.inferPerSec} infer/s, p50 ${s.p50Us} us, p99 ${s.p99Us} us, server CPU/request ${s.mainCpuUsPerReq} us main thread, ${s.cpuUsPerReq} us all threads`;
    console.log(`  on : ${line(sOn)} (drift PSI series: ${psi})`);
    console.log(`  off: ${line(sOff)}`);
    console.log(`  throughput on/off = ${ratio} (overhead ${((1 - ratio) * 100).toFixed(1)}%)`);
    console.log(`  main-thread CPU per request on/off = ${cpuRatio} (+${(sOn.mainCpuUsPerReq - sOff.mainCpuUsPerReq).toFixed(1)} us)`);
    writeResultsJson(OUT, {
      options: { rounds: ROUNDS, durationMs: DURATION_MS, warmupMs: WARMUP_MS, concurrency: CONCURRENCY, rows: ROWS, scrapeMs: SCRAPE_MS, workers: WORKERS },
      on: sOn, off: sOff, ratio, cpuRatio, psiSeries: psi, runs,
    });
  } finally {
    on.proc.kill('SIGTERM');
    off.proc.kill('SIGTERM');
  }
}

void main();
