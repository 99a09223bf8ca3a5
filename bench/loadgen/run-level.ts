/**
 * One load level: warm up, then measurement windows until the last three agree
 * (throughput and average latency within the stability percentage, perf_analyzer's
 * rule) or the trial budget runs out; then drain. Reports the merged stable windows,
 * and separately exact totals over the whole level (including warm-up) with the
 * server's statistics delta over the same span, so counts can be cross-checked.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { machineCpuUs, pidCpuUs, selfCpuUs } from './cpu.js';
import { closedLoop, openLoop, type Driver } from './drivers.js';
import { Histogram, summarize, type LatencySummary } from './histogram.js';
import { Recorder, Window } from './recorder.js';
import { statsDelta, type ServerSplit, type StatsSource } from './server-stats.js';
import type { Transport } from './transport.js';
import type { StatsSnapshot } from './types.js';

export type LoadMode = 'concurrency' | 'rate';

export interface LevelOptions {
  mode: LoadMode;
  /** Outstanding requests (concurrency) or requests per second (rate). */
  value: number;
  poisson?: boolean;
  batchSize: number;
  warmupMs: number;
  measurementMs: number;
  stabilityPct: number;
  maxTrials: number;
  /** Number of distinct payloads to rotate through. */
  steps: number;
  drainTimeoutMs?: number;
  maxOutstanding?: number;
  /** Other processes (e.g. the server) whose CPU use to report, by label. */
  pids?: Record<string, number>;
  random?: () => number;
}

export interface LevelResult {
  mode: LoadMode;
  value: number;
  /** null when fewer than three windows were allowed, so stability was not checked. */
  stable: boolean | null;
  trials: number;
  /** Over the merged (last up to three) windows. */
  durationS: number;
  requests: number;
  requestsPerSec: number;
  inferencesPerSec: number;
  latencyUs: LatencySummary;
  errors: Record<string, number>;
  errorCount: number;
  errorsPerSec: number;
  sendLagUs: { avg: number; p99: number };
  client: { cpuPct: number; eventLoopUtilization: number };
  /** CPU % (100 = one core) of each process in `pids`. */
  processCpuPct: Record<string, number | null>;
  /** Busy CPU % of the whole machine, and the part neither the generator nor `pids` used (other programs). */
  machineCpuPct: number | null;
  foreignCpuPct: number | null;
  server: ServerSplit | null;
  totals: { sent: number; ok: number; errors: Record<string, number>; server: ServerSplit | null };
}

const sum = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => a + b, 0);

function pidCpus(pids: Record<string, number>): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [k, pid] of Object.entries(pids)) out[k] = pidCpuUs(pid);
  return out;
}

function isStable(ws: Window[], pct: number): boolean {
  const within = (xs: number[]): boolean => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    return xs.every((x) => Math.abs(x - mean) <= (mean * pct) / 100);
  };
  return within(ws.map((w) => w.throughput)) && within(ws.map((w) => w.hist.mean()));
}

function startDriver(tr: Transport, rec: Recorder, o: LevelOptions): Driver {
  if (o.mode === 'concurrency') return closedLoop(tr, rec, o.value, o.steps);
  return openLoop(tr, rec, o.steps, {
    rate: o.value, poisson: o.poisson ?? false, maxOutstanding: o.maxOutstanding ?? 10_000, random: o.random,
  });
}

export async function runLevel(tr: Transport, stats: StatsSource | null, o: LevelOptions): Promise<LevelResult> {
  const pids = o.pids ?? {};
  const rec = new Recorder();
  const before = stats ? await stats() : null;
  const driver = startDriver(tr, rec, o);
  await sleep(o.warmupMs);

  const windows: Window[] = [];
  const snaps: Promise<StatsSnapshot | null>[] = [];
  const minWindows = Math.min(3, o.maxTrials);
  let stable: boolean | null = null;
  let cpu = selfCpuUs();
  let elu = performance.eventLoopUtilization();
  let pidCpu = pidCpus(pids);
  let machine = machineCpuUs();
  let t = performance.now();
  if (stats) snaps.push(stats());
  for (let trial = 0; trial < o.maxTrials; trial++) {
    const w = new Window();
    w.t0 = t;
    w.cpu0 = cpu;
    w.pidCpu0 = pidCpu;
    w.machine0 = machine;
    rec.win = w;
    await sleep(o.measurementMs);
    // Close this window and open the next at the same instant.
    t = w.t1 = performance.now();
    cpu = w.cpu1 = selfCpuUs();
    const elu1 = performance.eventLoopUtilization();
    w.elu = performance.eventLoopUtilization(elu1, elu).utilization;
    elu = elu1;
    pidCpu = w.pidCpu1 = pidCpus(pids);
    machine = w.machine1 = machineCpuUs();
    rec.win = null;
    if (stats) snaps.push(stats());
    windows.push(w);
    if (windows.length >= 3) {
      stable = isStable(windows.slice(-3), o.stabilityPct);
      if (stable) break;
    }
  }

  driver.stop();
  const drainUntil = performance.now() + (o.drainTimeoutMs ?? 10_000);
  while (tr.inFlight > 0 && performance.now() < drainUntil) await sleep(2);
  rec.abandoning = true;
  tr.close();
  await sleep(20); // let the server book the last requests before the final reading
  const after = stats ? await stats() : null;
  const snapshots = await Promise.all(snaps);

  const used = windows.slice(-minWindows);
  const first = windows.length - used.length;
  const hist = new Histogram();
  const lag = new Histogram();
  const errors: Record<string, number> = {};
  let ok = 0;
  let ms = 0;
  let cpuUs = 0;
  let eluSum = 0;
  let machineUs: number | null = 0;
  const pidUs: Record<string, number | null> = {};
  for (const w of used) {
    hist.merge(w.hist);
    lag.merge(w.lag);
    ok += w.ok;
    ms += w.durationMs;
    cpuUs += w.cpu1 - w.cpu0;
    eluSum += w.elu * w.durationMs;
    machineUs = machineUs === null || w.machine0 === null || w.machine1 === null ? null : machineUs + (w.machine1 - w.machine0);
    for (const [k, v] of Object.entries(w.errors)) errors[k] = (errors[k] ?? 0) + v;
    for (const k of Object.keys(pids)) {
      const a = w.pidCpu0[k];
      const b = w.pidCpu1[k];
      pidUs[k] = a == null || b == null || pidUs[k] === null ? null : (pidUs[k] ?? 0) + (b - a);
    }
  }
  const s = ms / 1000;
  const pct = (us: number): number => Math.round((us / (ms * 1000)) * 1000) / 10;
  const processCpuPct: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(pidUs)) processCpuPct[k] = v === null ? null : pct(v);
  const errorCount = sum(errors);
  const machineCpuPct = machineUs === null ? null : pct(machineUs);
  const ours = pct(cpuUs) + Object.values(processCpuPct).reduce<number>((a, x) => a + (x ?? 0), 0);
  return {
    mode: o.mode,
    value: o.value,
    stable,
    trials: windows.length,
    durationS: Math.round(s * 1000) / 1000,
    requests: ok,
    requestsPerSec: Math.round((ok / s) * 10) / 10,
    inferencesPerSec: Math.round(((ok * o.batchSize) / s) * 10) / 10,
    latencyUs: summarize(hist),
    errors,
    errorCount,
    errorsPerSec: Math.round((errorCount / s) * 10) / 10,
    sendLagUs: { avg: Math.round(lag.mean()), p99: Math.round(lag.quantile(0.99)) },
    client: { cpuPct: pct(cpuUs), eventLoopUtilization: Math.round((eluSum / ms) * 1000) / 1000 },
    processCpuPct,
    machineCpuPct,
    foreignCpuPct: machineCpuPct === null ? null : Math.max(0, Math.round((machineCpuPct - ours) * 10) / 10),
    server: snapshots.length ? statsDelta(snapshots[first], snapshots[windows.length]) : null,
    totals: { sent: rec.sent, ok: rec.ok, errors: { ...rec.errors }, server: statsDelta(before, after) },
  };
}
