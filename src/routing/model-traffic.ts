/**
 * What the router keeps per model: the active policy and its effective weights,
 * the route table and strategy built from them, per-route counters and guardrail
 * windows, shadow pairs, promotion state and the history. Plain state plus the few
 * operations every part of the router shares (install, rebuild, history), so the
 * request path, guardrails, shadows and the views each read one shape.
 *
 * Main thread only.
 */
import type { Logger } from 'pino';
import type { InferenceRequest } from '../types/inference.js';
import type { Tensor } from '../types/tensor.js';
import { PairComparison } from './compare.js';
import { type TrafficPolicy, policyJson } from './policy.js';
import { type RouteTable, type RoutingStrategy, NO_SHADOWS, buildTable, createStrategy } from './strategy.js';
import { SlidingWindow, type WindowSnapshot } from './window.js';

/** What the router needs of a loaded version (ModelVersion satisfies it). */
export interface ServingVersion {
  readonly name: string;
  readonly version: number;
  /** Its model instances (batches it can run at once). */
  readonly instances: { readonly count: number };
  /** True when some instance has nothing queued or running. */
  hasIdleInstance(): boolean;
  readonly batcher: { readonly queued: number; readonly inFlight: number };
}

/** What the router needs of the registry (ModelRegistry satisfies it). */
export interface VersionSource<V extends ServingVersion> {
  /** Throws for an unknown model or version. */
  resolve(name: string, version: string): V;
  /** Serving versions of a model; [] when unknown. */
  versions(name: string): V[];
}

/** Runs a shadow copy of a request on a version at its lowest priority. */
export type ShadowExecutor<V extends ServingVersion> = (version: V, request: InferenceRequest) => Promise<Tensor[]>;

/** The routing decision for one request. */
export interface Resolution {
  /** The version that serves the request; undefined: the registry's default (or the version the request names). */
  readonly primary: number | undefined;
  /** Versions that get a copy of the request after the answer is sent. */
  readonly shadows: readonly number[];
  /** `primary` as a version string, '' when undefined. */
  readonly version: string;
  /** @internal The route's bookkeeping; undefined when no policy routed the request. */
  readonly route: RouteState | undefined;
}

/** No policy, or the request named its version: the registry decides. */
export const NO_ROUTE: Resolution = Object.freeze({ primary: undefined, shadows: NO_SHADOWS, version: '', route: undefined });

export type PolicySource = 'file' | 'admin';

export interface HistoryEntry {
  /** Wall-clock time, ISO 8601. */
  at: string;
  event: 'policy_set' | 'policy_rejected' | 'policy_cleared' | 'rollback' | 'promotion' | 'version_unloaded';
  source?: PolicySource;
  version?: number;
  weight_from?: number;
  weight_to?: number;
  reason: string;
  window?: WindowSnapshot;
  baseline_window?: WindowSnapshot;
}

/** Per (model, version) counters; they outlive policies (metrics are monotonic). */
export interface RouteCounters {
  requests: number;
  errors: number;
  rollbacks: number;
}

/** One route of the active policy: counters and its guardrail window. */
export class RouteState {
  readonly model: ModelTraffic;
  readonly version: number;
  readonly counters: RouteCounters;
  readonly window: SlidingWindow | undefined;
  constructor(model: ModelTraffic, version: number, counters: RouteCounters, window: SlidingWindow | undefined) {
    this.model = model;
    this.version = version;
    this.counters = counters;
    this.window = window;
  }
}

export interface DropCounts { busy: number; not_loaded: number; stopped: number }

/** Shadow bookkeeping for one (model, primary, shadow) pair. */
export class ShadowPair {
  readonly primary: number;
  readonly shadow: number;
  /** Shadow runs submitted to the shadow version. */
  submitted = 0;
  completed = 0;
  failed = 0;
  readonly dropped: DropCounts = { busy: 0, not_loaded: 0, stopped: 0 };
  readonly comparison = new PairComparison();
  lastLog = -Infinity;
  suppressed = 0;
  constructor(primary: number, shadow: number) {
    this.primary = primary;
    this.shadow = shadow;
  }
}

export interface PromotionState {
  /** Index of the step the canary is at; -1 before the first. */
  step: number;
  healthy: number;
  windowStart: number;
  state: 'active' | 'complete' | 'stopped';
}

/** Everything the router keeps for one model. */
export class ModelTraffic {
  readonly model: string;
  policy: TrafficPolicy | undefined = undefined;
  source: PolicySource | undefined = undefined;
  /** Effective weights (policy order); guardrails and promotion change them. */
  weights: number[] = [];
  table: RouteTable | undefined = undefined;
  strategy: RoutingStrategy | undefined = undefined;
  /** Per primary route index + 1 (slot 0: registry default): the shadowless resolution. */
  plain: Resolution[] = [];
  /** Route states of the active policy, by version. */
  routes = new Map<number, RouteState>();
  readonly counters = new Map<number, RouteCounters>();
  readonly pairs = new Map<string, ShadowPair>();
  readonly history: HistoryEntry[] = [];
  rollbacks = 0;
  promotions = 0;
  promotion: PromotionState | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  /** traffic.json as last handed over (undefined: none), and whether it is the policy in force. */
  fileText: string | undefined = undefined;
  fileApplied = false;
  constructor(model: string) {
    this.model = model;
  }
}

export const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

/** What the parts of the router share: clocks, the PRNG's draw, the log and the history size. */
export interface TrafficContext {
  readonly log: Logger;
  /** Monotonic milliseconds. */
  readonly now: () => number;
  /** Wall-clock milliseconds, for the history. */
  readonly wall: () => number;
  readonly random: () => number;
  readonly historySize: number;
}

export function addHistory(ctx: TrafficContext, m: ModelTraffic, e: Omit<HistoryEntry, 'at'>): void {
  m.history.push({ at: new Date(ctx.wall()).toISOString(), ...e });
  if (m.history.length > ctx.historySize) m.history.splice(0, m.history.length - ctx.historySize);
}

/** New table, strategy and resolutions from the current weights (atomic for readers). */
export function rebuild(ctx: TrafficContext, m: ModelTraffic): void {
  const p = m.policy!;
  const table = buildTable(m.model, p.routes.map((r) => r.version), m.weights, p.sticky, p.shadows);
  const plain: Resolution[] = [NO_ROUTE];
  for (const v of table.versions) {
    plain.push(Object.freeze({ primary: v, shadows: NO_SHADOWS, version: String(v), route: m.routes.get(v) }));
  }
  m.plain = plain;
  m.table = table;
  m.strategy = createStrategy(p.strategy, table, ctx.random);
}

function describe(m: ModelTraffic): string {
  const t = m.table!;
  const parts = t.versions.map((v, i) => `v${v} ${round(t.total > 0 ? (100 * t.weights[i]!) / t.total : 0, 2)}%`);
  const sh = m.policy!.shadows.map((s) => `shadow v${s.version} x${s.fraction}`);
  return [...parts, ...sh].join(', ') || 'no routes';
}

/** Drop the active policy (counters, pairs and history stay). */
export function uninstall(m: ModelTraffic): void {
  if (m.timer !== undefined) clearInterval(m.timer);
  m.timer = undefined;
  m.policy = undefined;
  m.source = undefined;
  m.table = undefined;
  m.strategy = undefined;
  m.plain = [];
  m.routes = new Map();
  m.promotion = undefined;
}

/**
 * Put a validated policy in force: fresh weights, route states and windows,
 * promotion at the step the canary's configured share is at. `evaluate` is the
 * guardrail check a guarded policy gets on a timer (undefined: no timer).
 */
export function install(
  ctx: TrafficContext, m: ModelTraffic, p: TrafficPolicy, source: PolicySource,
  stepOf: (m: ModelTraffic) => number, evaluate: (() => void) | undefined,
): void {
  uninstall(m);
  if (p.routes.length === 0 && p.shadows.length === 0) {
    addHistory(ctx, m, { event: 'policy_cleared', source, reason: 'empty policy' });
    return;
  }
  m.policy = p;
  m.source = source;
  m.weights = p.routes.map((r) => r.weight);
  const windowMs = p.guardrails === undefined ? undefined : p.guardrails.window_s * 1000;
  m.routes = new Map();
  for (const r of p.routes) {
    let c = m.counters.get(r.version);
    if (c === undefined) {
      c = { requests: 0, errors: 0, rollbacks: 0 };
      m.counters.set(r.version, c);
    }
    m.routes.set(r.version, new RouteState(m, r.version, c, windowMs === undefined ? undefined : new SlidingWindow(windowMs)));
  }
  m.promotion = p.promotion === undefined ? undefined : { step: -1, healthy: 0, windowStart: ctx.now(), state: 'active' };
  if (m.promotion !== undefined) m.promotion.step = stepOf(m);
  rebuild(ctx, m);
  if (windowMs !== undefined && evaluate !== undefined) {
    // Ten evaluations per window: a breach is acted on within a tenth of it.
    m.timer = setInterval(evaluate, Math.max(20, windowMs / 10));
    m.timer.unref();
  }
  addHistory(ctx, m, { event: 'policy_set', source, reason: `${p.strategy}: ${describe(m)}` });
  ctx.log.info({ model: m.model, source, policy: policyJson(p) }, 'traffic policy set');
}
