/**
 * Reading the router: the admin view of one model (GET /v2/models/{m}/traffic,
 * gRPC GetTrafficPolicy) and the plain-number snapshot the metrics exporter reads
 * at scrape time. Both are computed on demand from the per-model state; nothing on
 * the request path records for them.
 */
import type { ComparisonSnapshot } from './compare.js';
import type { DropCounts, HistoryEntry, ModelTraffic, PolicySource } from './model-traffic.js';
import { round } from './model-traffic.js';
import { policyJson } from './policy.js';
import type { WindowSnapshot } from './window.js';

/** What the admin endpoint shows for a model. */
export interface TrafficState {
  model: string;
  source: PolicySource | null;
  policy: Record<string, unknown> | null;
  strategy: string | null;
  baseline: number | null;
  routes: Array<{
    version: number; role: 'baseline' | 'canary'; configured_weight: number; weight: number; share: number;
    requests: number; errors: number; rollbacks: number; window: WindowSnapshot | null;
  }>;
  shadows: Array<{
    primary: number; shadow: number; submitted: number; completed: number; failed: number;
    dropped: DropCounts;
  } & ComparisonSnapshot>;
  promotion: { steps: number[]; step: number | null; share: number; healthy_windows: number; healthy: number; state: string } | null;
  rollbacks: number;
  promotions: number;
  history: HistoryEntry[];
}

/** Snapshot API for metrics (plain numbers; the obs layer turns them into gauges). */
export interface TrafficMetrics {
  routes: Array<{
    model: string; route: string; requests: number; errors: number; rollbacks: number;
    weight: number; share: number; window_samples: number; window_error_rate: number; window_p99_ms: number;
  }>;
  shadows: Array<{
    model: string; primary: string; shadow: string;
    submitted: number; completed: number; failed: number; dropped: number; dropped_busy: number;
    compared: number; exact_match_rate: number; top_class_disagreement_rate: number;
    outputs: Array<{ output: string; max_abs_diff: number; mean_abs_diff: number }>;
  }>;
  models: Array<{ model: string; rollbacks: number; promotions: number }>;
}

/** The view of a loaded model the router has never kept anything for. */
export function emptyState(model: string): TrafficState {
  return {
    model, source: null, policy: null, strategy: null, baseline: null, routes: [], shadows: [],
    promotion: null, rollbacks: 0, promotions: 0, history: [],
  };
}

export function trafficState(m: ModelTraffic, now: number): TrafficState {
  const p = m.policy;
  const t = m.table;
  const routes: TrafficState['routes'] = p === undefined ? [] : p.routes.map((r, i) => {
    const rs = m.routes.get(r.version)!;
    return {
      version: r.version,
      role: r.version === p.baseline ? 'baseline' : 'canary',
      configured_weight: r.weight,
      weight: m.weights[i]!,
      share: t !== undefined && t.total > 0 ? round(m.weights[i]! / t.total, 6) : 0,
      requests: rs.counters.requests,
      errors: rs.counters.errors,
      rollbacks: rs.counters.rollbacks,
      window: rs.window?.snapshot(now) ?? null,
    };
  });
  const pr = m.promotion;
  return {
    model: m.model,
    source: m.source ?? null,
    policy: p === undefined ? null : policyJson(p),
    strategy: p?.strategy ?? null,
    baseline: p?.baseline ?? null,
    routes,
    shadows: [...m.pairs.values()].map((s) => ({
      primary: s.primary, shadow: s.shadow, submitted: s.submitted, completed: s.completed, failed: s.failed,
      dropped: { ...s.dropped }, ...s.comparison.snapshot(),
    })),
    promotion: pr === undefined || p?.promotion === undefined ? null : {
      steps: [...p.promotion.steps],
      step: pr.step < 0 ? null : p.promotion.steps[pr.step]!,
      share: routes.find((r) => r.role === 'canary')?.share ?? 0,
      healthy_windows: p.promotion.healthy_windows,
      healthy: pr.healthy,
      state: pr.state,
    },
    rollbacks: m.rollbacks,
    promotions: m.promotions,
    history: m.history.slice(),
  };
}

/** Every counter and gauge, as plain numbers, for the metrics exporter. */
export function collectMetrics(models: Iterable<ModelTraffic>, now: number): TrafficMetrics {
  const out: TrafficMetrics = { routes: [], shadows: [], models: [] };
  for (const m of models) {
    // Models that never had a policy have nothing to report.
    if (m.policy === undefined && m.counters.size === 0 && m.pairs.size === 0) continue;
    out.models.push({ model: m.model, rollbacks: m.rollbacks, promotions: m.promotions });
    const t = m.table;
    for (const [version, c] of m.counters) {
      const i = t === undefined ? -1 : t.versions.indexOf(version);
      const w = m.routes.get(version)?.window?.snapshot(now);
      const weight = i >= 0 ? m.weights[i]! : 0;
      out.routes.push({
        model: m.model, route: String(version), requests: c.requests, errors: c.errors, rollbacks: c.rollbacks,
        weight, share: t !== undefined && t.total > 0 ? weight / t.total : 0,
        window_samples: w?.samples ?? 0, window_error_rate: w?.error_rate ?? 0, window_p99_ms: w?.p99_ms ?? 0,
      });
    }
    for (const s of m.pairs.values()) {
      const c = s.comparison.snapshot();
      const d = s.dropped;
      out.shadows.push({
        model: m.model, primary: String(s.primary), shadow: String(s.shadow),
        submitted: s.submitted, completed: s.completed, failed: s.failed,
        dropped: d.busy + d.not_loaded + d.stopped, dropped_busy: d.busy,
        compared: c.compared, exact_match_rate: c.exact_match_rate,
        top_class_disagreement_rate: c.top_class_disagreement_rate ?? 0,
        outputs: c.outputs.map((o) => ({ output: o.name, max_abs_diff: o.max_abs_diff, mean_abs_diff: o.mean_abs_diff })),
      });
    }
  }
  return out;
}
