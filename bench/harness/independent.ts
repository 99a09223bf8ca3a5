/**
 * The headline scenarios again, driven by wrk (HTTP) and h2load (gRPC) instead of
 * the bench's own generator, against the same running servers. Rounds alternate
 * the servers (rotating who goes first) and the summary takes medians over rounds;
 * cnn scenarios sample the in-process ORT ceiling between the rounds, so the ratio
 * compares figures taken under the same load.
 *
 * h2load counts HTTP 200 as success and cannot see grpc-status; for Osprey the
 * statistics extension's failure count over the run is reported beside it.
 */
import { loadavg } from 'node:os';
import { buildInputSteps } from '../loadgen/input-data.js';
import { encodeInferRequest, GRPC_SERVICE, grpcFrame } from '../loadgen/kserve-pb.js';
import { modelInfoHttp } from '../loadgen/model-info.js';
import { binaryBody, inferPath, jsonBody, type Wire } from '../loadgen/payload.js';
import { httpStatsSource } from '../loadgen/server-stats.js';
import { findTool, runH2load, runWrk, type ToolName, type ToolResult } from './external-tools.js';
import type { RunningTarget, TargetId } from './targets.js';
import { median } from './median.js';

export interface IndependentScenario {
  id: string;
  model: string;
  wire: Wire;
  /** gRPC only: unary ModelInfer, or `streamMessages` requests in one ModelStreamInfer stream. */
  rpc?: 'unary' | 'stream';
  streamMessages?: number;
  tool: ToolName;
  /** HTTP: connections; gRPC: concurrent streams per connection. */
  concurrency: number;
  connections?: number;
  targets: TargetId[];
  ceiling?: boolean;
}

export interface IndependentRun extends Omit<ToolResult, 'raw'> {
  /** The target id, or `<target> stream` / `<target> unary` in the stream scenario. */
  label: string;
  round: number;
  /** requestsPerSec x messages per request (streams carry several). */
  inferencesPerSec: number;
  /** Osprey only: failures the server counted over the run (null: no statistics). */
  serverFailures: number | null;
}

export interface IndependentScenarioResult extends IndependentScenario {
  command: string;
  runs: IndependentRun[];
  ceilingSamples: number[];
  /** Medians over rounds, per target. */
  medians: Record<string, { inferencesPerSec: number; p99Ms: number | null; serverCpuPct: number | null }>;
  ceilingMedian: number | null;
  otherCpuPctMedian: number | null;
  loadavg1Median: number;
}

export interface IndependentResults {
  tools: Partial<Record<ToolName, string>>;
  rounds: number;
  durationS: number;
  scenarios: IndependentScenarioResult[];
  skipped: string[];
}

export const STREAM_MESSAGES = 64;
/**
 * Seconds of unmeasured load before each run, for both tools (h2load's --warm-up-time;
 * a separate wrk run for HTTP). Without it a wrk round measured a server's first second
 * at a concurrency it had not yet run at: Osprey's concurrency-1 path (its JIT-compiled
 * polls, its rests, see src/worker/hint.ts) ran 4.4k req/s over its first 2 s of wrk -c1
 * and 9.4-12.2k over the next 10 s (a fresh server, 2026-12-05).
 */
export const WARMUP_S = 1;

/** The issue's headline comparisons (see bench/README.md). */
export function independentScenarios(): IndependentScenario[] {
  return [
    { id: 'tabular-http-c64', model: 'tabular', wire: 'http-json', tool: 'wrk', concurrency: 64, targets: ['osprey', 'osprey-node', 'osprey-uws', 'naive', 'floor'] },
    { id: 'tabular-grpc-m64', model: 'tabular', wire: 'grpc', tool: 'h2load', concurrency: 64, connections: 1, targets: ['osprey', 'osprey-h2', 'osprey-grpcjs', 'naive', 'floor'] },
    { id: 'tabular-grpc-stream', model: 'tabular', wire: 'grpc', rpc: 'stream', streamMessages: STREAM_MESSAGES, tool: 'h2load', concurrency: 1, connections: 1, targets: ['osprey'] },
    { id: 'tabular-http-c1', model: 'tabular', wire: 'http-json', tool: 'wrk', concurrency: 1, targets: ['osprey', 'osprey-node', 'osprey-uws', 'naive'] },
    { id: 'cnn-http-c1', model: 'cnn', wire: 'http-json', tool: 'wrk', concurrency: 1, targets: ['osprey', 'naive'] },
    { id: 'cnn-http-binary-c32', model: 'cnn', wire: 'http-binary', tool: 'wrk', concurrency: 32, targets: ['osprey', 'osprey-uws', 'floor'], ceiling: true },
    { id: 'cnn-grpc-m32', model: 'cnn', wire: 'grpc', tool: 'h2load', concurrency: 32, connections: 1, targets: ['osprey', 'osprey-h2', 'osprey-grpcjs', 'naive', 'floor'], ceiling: true },
  ];
}

/** The median of the rounds that gave a figure (null: none did). */
const medianOf = (xs: Array<number | null>): number | null => {
  const m = median(xs.filter((x): x is number => x !== null));
  return Number.isNaN(m) ? null : m;
};

/** One thing to measure in a round: a target, or for the stream scenario one RPC form on Osprey. */
export interface Contender { label: string; target: TargetId; messages: number; run(t: RunningTarget): Promise<ToolResult> }

export async function prepare(sc: IndependentScenario, ids: TargetId[], anyHttp: string, durationS: number, bins: Record<ToolName, string>): Promise<{ command: string; contenders: Contender[] }> {
  const info = await modelInfoHttp(anyHttp, sc.model);
  const [step] = buildInputSteps(info, { batchSize: 1, inputData: 'random' });
  const path = inferPath(sc.model, '');
  if (sc.wire === 'grpc') {
    const one = grpcFrame(encodeInferRequest(sc.model, '', step!));
    const connections = sc.connections ?? 1;
    const h2 = (rpc: 'unary' | 'stream', streams: number): Omit<Contender, 'label' | 'target'> => {
      const messages = rpc === 'stream' ? sc.streamMessages ?? STREAM_MESSAGES : 1;
      const frame = Buffer.concat(new Array<Buffer>(messages).fill(one));
      const method = `${GRPC_SERVICE}${rpc === 'stream' ? 'ModelStreamInfer' : 'ModelInfer'}`;
      return { messages, run: (t) => runH2load(bins.h2load, { hostPort: t.grpc!, path: method, frame, connections, streams, durationS, warmupS: WARMUP_S }, t.pid) };
    };
    if (sc.rpc === 'stream') {
      // The same requests in flight both ways: n messages in one stream, or n unary calls on one connection.
      const n = sc.streamMessages ?? STREAM_MESSAGES;
      return {
        command: `h2load -t1 -c${connections} -m1 -D ${durationS} --warm-up-time=${WARMUP_S} -d <${n} gRPC frames of ${one.length} B> ` +
          `-H 'content-type: application/grpc' -H 'te: trailers' http://HOST${GRPC_SERVICE}ModelStreamInfer, against -m${n} -d <1 frame> .../ModelInfer`,
        contenders: ids.flatMap((target) => [
          { label: `${target} stream`, target, ...h2('stream', 1) },
          { label: `${target} unary`, target, ...h2('unary', n) },
        ]),
      };
    }
    return {
      command: `h2load -t1 -c${connections} -m${sc.concurrency} -D ${durationS} --warm-up-time=${WARMUP_S} -d <${one.length} B gRPC frame> ` +
        `-H 'content-type: application/grpc' -H 'te: trailers' http://HOST${GRPC_SERVICE}ModelInfer`,
      contenders: ids.map((target) => ({ label: target, target, ...h2('unary', sc.concurrency) })),
    };
  }
  const { body, headers } = sc.wire === 'http-json'
    ? { body: jsonBody(step!), headers: { 'Content-Type': 'application/json' } }
    : (() => {
      const b = binaryBody(step!, info.outputs.map((o) => o.name));
      return { body: b.body, headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(b.headerLength) } };
    })();
  return {
    command: `wrk -t1 -c${sc.concurrency} -d${durationS}s --latency -s post.lua http://HOST${path} (POST of ${body.length} B, ${sc.wire}; after ${WARMUP_S} s of the same, unmeasured)`,
    contenders: ids.map((target) => ({
      label: target, target, messages: 1,
      run: (t) => runWrk(bins.wrk, { hostPort: t.http, path, body, headers, connections: sc.concurrency, durationS, warmupS: WARMUP_S }, t.pid),
    })),
  };
}

export interface IndependentOptions {
  rounds: number;
  durationS: number;
  running: Map<TargetId, RunningTarget>;
  /** Samples the in-process ceiling (rows/s) of a model while the servers idle. */
  ceiling: (model: string) => Promise<number>;
  log: (s: string) => void;
}

export async function runIndependent(o: IndependentOptions): Promise<IndependentResults> {
  const wrk = findTool('wrk');
  const h2load = findTool('h2load');
  const res: IndependentResults = { tools: {}, rounds: o.rounds, durationS: o.durationS, scenarios: [], skipped: [] };
  if (wrk) res.tools.wrk = wrk;
  if (h2load) res.tools.h2load = h2load;
  const bins = { wrk: wrk ?? '', h2load: h2load ?? '' };
  for (const sc of independentScenarios()) {
    if (!bins[sc.tool]) {
      res.skipped.push(`${sc.id}: ${sc.tool} not installed`);
      continue;
    }
    const ids = sc.targets.filter((id) => o.running.has(id) && (sc.wire !== 'grpc' || o.running.get(id)!.grpc !== null));
    if (ids.length === 0) {
      res.skipped.push(`${sc.id}: none of ${sc.targets.join(', ')} running`);
      continue;
    }
    const prep = await prepare(sc, ids, o.running.get(ids[0]!)!.http, o.durationS, bins);
    const out: IndependentScenarioResult = {
      ...sc, command: prep.command, runs: [], ceilingSamples: [], medians: {}, ceilingMedian: null, otherCpuPctMedian: null, loadavg1Median: 0,
    };
    res.scenarios.push(out);
    const cs = prep.contenders;
    for (let round = 0; round < o.rounds; round++) {
      if (sc.ceiling) out.ceilingSamples.push(await o.ceiling(sc.model));
      for (let k = 0; k < cs.length; k++) {
        const c = cs[(k + round) % cs.length]!;
        const t = o.running.get(c.target)!;
        const stats = c.target.startsWith('osprey') ? httpStatsSource(t.http, sc.model) : null;
        const before = stats ? await stats().catch(() => null) : null;
        try {
          const { raw: _raw, ...r } = await c.run(t);
          const after = stats ? await stats().catch(() => null) : null;
          const run: IndependentRun = {
            ...r, label: c.label, round, inferencesPerSec: r.requestsPerSec * c.messages,
            serverFailures: before && after ? after.fail.count - before.fail.count : null,
          };
          out.runs.push(run);
          o.log(`${sc.tool} ${sc.id} ${c.label} round ${round + 1}: ${run.inferencesPerSec} infer/s` +
            `${r.p99Ms !== null ? ` p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms` : ` mean ${r.meanMs} ms`} errors ${r.errors}` +
            `${run.serverFailures !== null ? ` server failures ${run.serverFailures}` : ''}` +
            ` (server ${r.serverCpuPct ?? '?'}%, ${sc.tool} ${r.toolCpuPct ?? '?'}%, other programs ${r.otherCpuPct ?? '?'}%, load ${r.loadavg1})`);
        } catch (e) {
          o.log(`${sc.tool} ${sc.id} ${c.label} round ${round + 1}: FAILED ${(e as Error).message.split('\n')[0]}`);
        }
      }
    }
    for (const c of cs) {
      const mine = out.runs.filter((r) => r.label === c.label);
      const ips = medianOf(mine.map((r) => r.inferencesPerSec));
      if (ips !== null) out.medians[c.label] = { inferencesPerSec: ips, p99Ms: medianOf(mine.map((r) => r.p99Ms)), serverCpuPct: medianOf(mine.map((r) => r.serverCpuPct)) };
    }
    out.ceilingMedian = medianOf(out.ceilingSamples);
    out.otherCpuPctMedian = medianOf(out.runs.map((r) => r.otherCpuPct));
    out.loadavg1Median = medianOf(out.runs.map((r) => r.loadavg1)) ?? loadavg()[0]!;
  }
  return res;
}
