/**
 * Ratios the report is about, computed from a results file: Osprey against the naive
 * server, the protocol floor and the ORT ceiling, and batching on against off.
 * Shared by report.md and the README table so the two never disagree.
 */
import type { LevelResult } from '../loadgen/run-level.js';
import type { BenchResults, ScenarioResult } from './results.js';
import type { TargetId } from './targets.js';

export interface Peak {
  inferPerSec: number;
  concurrency: number;
  p99Us: number;
}

/** Highest throughput among error-free levels (a level with errors does not count as served). */
export function peak(levels: readonly LevelResult[] | undefined): Peak | null {
  let best: LevelResult | null = null;
  for (const r of levels ?? []) {
    if (r.errorCount > 0) continue;
    if (!best || r.inferencesPerSec > best.inferencesPerSec) best = r;
  }
  return best ? { inferPerSec: best.inferencesPerSec, concurrency: best.value, p99Us: best.latencyUs.p99 } : null;
}

export function atLevel(levels: readonly LevelResult[] | undefined, value: number): LevelResult | undefined {
  return levels?.find((r) => r.value === value);
}

export const ratio = (a: number | undefined | null, b: number | undefined | null): number | null =>
  a != null && b != null && b > 0 ? Number((a / b).toPrecision(3)) : null;

export interface ScenarioSummary {
  id: string;
  model: string;
  wire: string;
  peaks: Partial<Record<TargetId, Peak | null>>;
  /** p50 at concurrency 1, us. */
  p50AtOne: Partial<Record<TargetId, number>>;
  vsNaive: number | null;
  vsFloor: number | null;
  vsCeiling: number | null;
  batchingGain: number | null;
  /** Osprey on the default (net) engine ÷ on uWS, at each one's peak. */
  defaultVsUws: number | null;
  /** Osprey on the default (net) engine ÷ on node:http. */
  defaultVsNode: number | null;
}

export function summarizeScenario(res: BenchResults, s: ScenarioResult): ScenarioSummary {
  const peaks: ScenarioSummary['peaks'] = {};
  const p50AtOne: ScenarioSummary['p50AtOne'] = {};
  for (const [id, levels] of Object.entries(s.results) as [TargetId, LevelResult[]][]) {
    peaks[id] = peak(levels);
    const one = atLevel(levels, 1);
    if (one) p50AtOne[id] = one.latencyUs.p50;
  }
  const o = peaks.osprey?.inferPerSec;
  return {
    id: s.id, model: s.model, wire: s.wire, peaks, p50AtOne,
    vsNaive: ratio(o, peaks.naive?.inferPerSec),
    vsFloor: ratio(o, peaks.floor?.inferPerSec),
    vsCeiling: ratio(o, res.ceilings[s.model]?.rowsPerSec),
    batchingGain: ratio(o, peaks['osprey-nobatch']?.inferPerSec),
    // The default engine (net, `osprey`) over the opt-in ones.
    defaultVsUws: ratio(o, peaks['osprey-uws']?.inferPerSec),
    defaultVsNode: ratio(o, peaks['osprey-node']?.inferPerSec),
  };
}

/** Two decimals, or two significant digits for small ratios (tabular vs its ceiling is ~0.001). */
export const fmtRatio = (r: number | null): string =>
  r === null ? '-' : `${r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}×`;
export const fmtMs = (us: number | undefined): string => (us === undefined ? '-' : (us / 1000).toFixed(us < 10_000 ? 2 : 1));
export const fmtRate = (n: number | undefined | null): string => (n == null ? '-' : n >= 100 ? String(Math.round(n)) : n.toFixed(1));

export const WIRE_LABEL: Record<string, string> = { grpc: 'gRPC', 'http-json': 'HTTP/JSON', 'http-binary': 'HTTP/binary' };
