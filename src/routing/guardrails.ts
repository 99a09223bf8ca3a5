/**
 * Guardrails and promotion: compare each canary's sliding window with the
 * baseline's, roll a breaching canary back to weight 0 (its share goes to the
 * others), and step a healthy single canary's share up the promotion steps.
 * Evaluated on a timer per guarded policy (ten times per window) and by tests.
 */
import { type ModelTraffic, type TrafficContext, addHistory, rebuild, round } from './model-traffic.js';

/** The promotion step the canary's configured share is at (-1: below the first). */
export function stepOf(m: ModelTraffic): number {
  const p = m.policy!;
  const ci = p.routes.findIndex((r) => r.version !== p.baseline);
  const total = m.weights.reduce((a, b) => a + b, 0);
  const share = total > 0 ? (100 * m.weights[ci]!) / total : 0;
  let step = -1;
  p.promotion!.steps.forEach((s, k) => { if (share >= s - 1e-9) step = k; });
  return step;
}

/** Evaluate one model's guardrails now: roll back breaching canaries, else maybe promote. */
export function evaluate(ctx: TrafficContext, m: ModelTraffic): void {
  const p = m.policy;
  if (p === undefined || p.guardrails === undefined || p.baseline === undefined) return;
  const g = p.guardrails;
  // Fully promoted (the baseline has no traffic left): nothing to compare against.
  if (m.weights[p.routes.findIndex((r) => r.version === p.baseline)] === 0) return;
  const now = ctx.now();
  const base = m.routes.get(p.baseline)!.window!.snapshot(now);
  const baseOk = base.samples - base.errors;
  let changed = false;
  const verdicts = new Map<number, boolean>();
  for (let i = 0; i < p.routes.length; i++) {
    const version = p.routes[i]!.version;
    if (version === p.baseline || m.weights[i] === 0) continue;
    const w = m.routes.get(version)!.window!.snapshot(now);
    if (w.samples < g.min_samples) continue;
    const reasons: string[] = [];
    if (w.error_rate - base.error_rate > g.max_error_rate_delta) {
      reasons.push(`error rate ${round(w.error_rate)} exceeds the baseline's ${round(base.error_rate)} by more than ${g.max_error_rate_delta}`);
    }
    if (baseOk >= g.min_samples && w.samples > w.errors && w.p99_ms > g.max_p99_ratio * base.p99_ms) {
      reasons.push(`p99 latency ${round(w.p99_ms, 3)} ms is more than ${g.max_p99_ratio}x the baseline's ${round(base.p99_ms, 3)} ms`);
    }
    verdicts.set(version, reasons.length === 0);
    if (reasons.length === 0) continue;
    const from = m.weights[i]!;
    m.weights[i] = 0;
    m.rollbacks++;
    m.routes.get(version)!.counters.rollbacks++;
    if (m.promotion !== undefined) m.promotion.state = 'stopped';
    const reason = `rolled back over the last ${g.window_s} s (${w.samples} samples): ${reasons.join('; ')}`;
    addHistory(ctx, m, { event: 'rollback', version, weight_from: from, weight_to: 0, reason, window: w, baseline_window: base });
    ctx.log.warn({ model: m.model, version, reason, window: w, baseline: p.baseline, baseline_window: base }, 'canary rolled back');
    changed = true;
  }
  if (changed) {
    rebuild(ctx, m);
    return;
  }
  promote(ctx, m, now, verdicts);
}

function promote(ctx: TrafficContext, m: ModelTraffic, now: number, verdicts: ReadonlyMap<number, boolean>): void {
  const pr = m.promotion;
  const p = m.policy!;
  if (pr === undefined || pr.state !== 'active' || p.promotion === undefined) return;
  const windowMs = p.guardrails!.window_s * 1000;
  if (now - pr.windowStart < windowMs) return;
  pr.windowStart = now;
  const ci = p.routes.findIndex((r) => r.version !== p.baseline);
  const canary = p.routes[ci]!.version;
  // A window without enough canary samples is neither healthy nor a breach.
  if (verdicts.get(canary) !== true) return;
  if (++pr.healthy < p.promotion.healthy_windows) return;
  pr.healthy = 0;
  const next = pr.step + 1;
  if (next >= p.promotion.steps.length) { pr.state = 'complete'; return; }
  const share = p.promotion.steps[next]!;
  pr.step = next;
  const bi = 1 - ci;
  const total = m.weights[0]! + m.weights[1]!;
  const from = m.weights[ci]!;
  m.weights[ci] = (total * share) / 100;
  m.weights[bi] = total - m.weights[ci]!;
  m.promotions++;
  if (next === p.promotion.steps.length - 1) pr.state = 'complete';
  rebuild(ctx, m);
  const reason = `promoted to ${share}% after ${p.promotion.healthy_windows} healthy window(s)${pr.state === 'complete' ? ' (last step)' : ''}`;
  addHistory(ctx, m, { event: 'promotion', version: canary, weight_from: from, weight_to: m.weights[ci], reason });
  ctx.log.info({ model: m.model, version: canary, share }, 'canary promoted');
}
