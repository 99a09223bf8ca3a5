/**
 * The generator as a library: read the model's metadata over the protocol under
 * test, build and check the payloads once, then run each load level on fresh
 * connections and collect the results. The CLI and the side-by-side report both
 * call `runSweep`.
 */
import { GrpcClient } from './grpc-client.js';
import { buildInputSteps } from './input-data.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { modelInfoGrpc, modelInfoHttp } from './model-info.js';
import { buildPayloads, type Payloads, type Wire } from './payload.js';
import { probe } from './probe.js';
import { runLevel, type LevelResult, type LoadMode } from './run-level.js';
import { grpcStatsSource, httpStatsSource, type StatsSource } from './server-stats.js';
import { makeTransport } from './transport.js';
import type { ModelInfo, Protocol } from './types.js';

export interface SweepOptions {
  /** host:port of the server's HTTP or gRPC endpoint. */
  url: string;
  protocol: Protocol;
  /** HTTP only: binary tensor extension instead of JSON. */
  binary?: boolean;
  model: string;
  version?: string;
  batchSize: number;
  /** 'zero' | 'random' | path to a perf_analyzer JSON data file */
  inputData: string;
  shapes?: Record<string, number[]>;
  stringLength?: number;
  mode: LoadMode;
  values: number[];
  poisson?: boolean;
  warmupMs: number;
  measurementMs: number;
  stabilityPct: number;
  maxTrials: number;
  /** gRPC: sessions (default min(4, concurrency)); HTTP open loop: max connections (default 256). */
  connections?: number;
  serverStats?: boolean;
  /** Stop the sweep after a level whose p99 exceeds this. */
  latencyThresholdMs?: number;
  maxOutstanding?: number;
  pids?: Record<string, number>;
  onLevel?: (r: LevelResult) => void;
}

export interface SweepResult {
  tool: 'osprey-loadgen';
  startedAt: string;
  url: string;
  protocol: Protocol;
  wire: Wire;
  model: string;
  version: string;
  batchSize: number;
  inputData: string;
  requestBodyBytes: number;
  settings: { warmupMs: number; measurementMs: number; stabilityPct: number; maxTrials: number; poisson: boolean };
  machine: MachineInfo;
  levels: LevelResult[];
}

function connectionsFor(o: SweepOptions, value: number): number {
  if (o.protocol === 'grpc') return o.connections ?? (o.mode === 'concurrency' ? Math.min(4, value) : 4);
  return o.mode === 'concurrency' ? value : o.connections ?? 256;
}

export async function prepare(o: SweepOptions): Promise<{ info: ModelInfo; payloads: Payloads; control: GrpcClient | null; stats: StatsSource | null }> {
  const control = o.protocol === 'grpc' ? new GrpcClient(o.url, 1) : null;
  try {
    const version = o.version ?? '';
    const info = control ? await modelInfoGrpc(control, o.model, version) : await modelInfoHttp(o.url, o.model, version);
    const steps = buildInputSteps(info, { batchSize: o.batchSize, inputData: o.inputData, shapes: o.shapes, stringLength: o.stringLength });
    const wire: Wire = o.protocol === 'grpc' ? 'grpc' : o.binary ? 'http-binary' : 'http-json';
    const payloads = buildPayloads(wire, o.url, info, version, steps);
    await probe(payloads, o.url, info, control);
    let stats: StatsSource | null = null;
    if (o.serverStats !== false) {
      const src = control ? grpcStatsSource(control, o.model, version) : httpStatsSource(o.url, o.model, version);
      if (await src()) stats = src;
    }
    return { info, payloads, control, stats };
  } catch (e) {
    control?.close();
    throw e;
  }
}

export async function runSweep(o: SweepOptions): Promise<SweepResult> {
  const { payloads, control, stats } = await prepare(o);
  const result: SweepResult = {
    tool: 'osprey-loadgen',
    startedAt: new Date().toISOString(),
    url: o.url,
    protocol: o.protocol,
    wire: payloads.wire,
    model: o.model,
    version: o.version ?? '',
    batchSize: o.batchSize,
    inputData: o.inputData,
    requestBodyBytes: payloads.bodyBytes,
    settings: { warmupMs: o.warmupMs, measurementMs: o.measurementMs, stabilityPct: o.stabilityPct, maxTrials: o.maxTrials, poisson: o.poisson ?? false },
    machine: machineInfo(),
    levels: [],
  };
  try {
    for (const value of o.values) {
      const tr = makeTransport(payloads, o.url, connectionsFor(o, value));
      const r = await runLevel(tr, stats, {
        mode: o.mode, value, poisson: o.poisson, batchSize: o.batchSize, warmupMs: o.warmupMs,
        measurementMs: o.measurementMs, stabilityPct: o.stabilityPct, maxTrials: o.maxTrials,
        steps: payloads.requests.length, maxOutstanding: o.maxOutstanding, pids: o.pids,
      });
      result.levels.push(r);
      o.onLevel?.(r);
      if (o.latencyThresholdMs !== undefined && r.latencyUs.p99 > o.latencyThresholdMs * 1000) break;
    }
  } finally {
    control?.close();
  }
  return result;
}
