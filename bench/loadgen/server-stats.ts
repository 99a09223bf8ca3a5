/**
 * Reads the statistics extension (Triton JSON over HTTP, ModelStatistics over gRPC)
 * and turns two readings into the per-level split perf_analyzer prints: queue and
 * compute input/infer/output averages, plus exact counts for consistency checks.
 */
import type { GrpcClient } from './grpc-client.js';
import { httpCall } from './http-get.js';
import { decodeStatistics, emptySnapshot, encodeNameVersion, GRPC_SERVICE } from './kserve-pb.js';
import type { StatDuration, StatsSnapshot } from './types.js';

export type StatsSource = () => Promise<StatsSnapshot | null>;

interface JsonDuration { count?: number; ns?: number }
interface JsonModelStats {
  inference_count?: number;
  execution_count?: number;
  inference_stats?: Record<string, JsonDuration>;
}

const KEYS: [keyof StatsSnapshot, string][] = [
  ['success', 'success'], ['fail', 'fail'], ['queue', 'queue'],
  ['computeInput', 'compute_input'], ['computeInfer', 'compute_infer'], ['computeOutput', 'compute_output'],
];

export function snapshotFromJson(doc: { model_stats?: JsonModelStats[] }): StatsSnapshot {
  const s = emptySnapshot();
  for (const m of doc.model_stats ?? []) {
    s.inferenceCount += Number(m.inference_count ?? 0);
    s.executionCount += Number(m.execution_count ?? 0);
    for (const [k, j] of KEYS) {
      const d = m.inference_stats?.[j];
      (s[k] as StatDuration).count += Number(d?.count ?? 0);
      (s[k] as StatDuration).ns += Number(d?.ns ?? 0);
    }
  }
  return s;
}

/** A source that returns null (not throws) when the server has no statistics. */
export function httpStatsSource(hostPort: string, model: string, version = ''): StatsSource {
  const base = `/v2/models/${encodeURIComponent(model)}`;
  const path = version ? `${base}/versions/${encodeURIComponent(version)}/stats` : `${base}/stats`;
  return async () => {
    const r = await httpCall(hostPort, 'GET', path).catch(() => null);
    return r?.status === 200 ? snapshotFromJson(JSON.parse(r.body.toString())) : null;
  };
}

export function grpcStatsSource(client: GrpcClient, model: string, version = ''): StatsSource {
  const req = encodeNameVersion(model, version);
  return async () => {
    const r = await client.unary(`${GRPC_SERVICE}ModelStatistics`, req).catch(() => null);
    return r?.status === 0 ? decodeStatistics(r.body) : null;
  };
}

export interface ServerSplit {
  /** Requests the server counted as succeeded / failed between the two readings. */
  success: number;
  fail: number;
  inferenceCount: number;
  executionCount: number;
  /** inference_count / execution_count: the batch the server actually ran. */
  avgBatch: number;
  /** Per-request averages in microseconds. */
  requestUs: number;
  queueUs: number;
  computeInputUs: number;
  computeInferUs: number;
  computeOutputUs: number;
}

const avgUs = (a: StatDuration, b: StatDuration): number => {
  const n = b.count - a.count;
  return n > 0 ? Math.round((b.ns - a.ns) / n / 1000) : 0;
};

export function statsDelta(a: StatsSnapshot | null, b: StatsSnapshot | null): ServerSplit | null {
  if (!a || !b) return null;
  const exec = b.executionCount - a.executionCount;
  const inf = b.inferenceCount - a.inferenceCount;
  return {
    success: b.success.count - a.success.count,
    fail: b.fail.count - a.fail.count,
    inferenceCount: inf,
    executionCount: exec,
    avgBatch: exec > 0 ? Math.round((inf / exec) * 100) / 100 : 0,
    requestUs: avgUs(a.success, b.success),
    queueUs: avgUs(a.queue, b.queue),
    computeInputUs: avgUs(a.computeInput, b.computeInput),
    computeInferUs: avgUs(a.computeInfer, b.computeInfer),
    computeOutputUs: avgUs(a.computeOutput, b.computeOutput),
  };
}
