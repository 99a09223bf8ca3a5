/**
 * The traffic router: per model, the active policy, its strategy, the guardrail
 * windows, the shadow runner and the comparison of shadow outputs. The data plane
 * asks it which version serves a request (`resolve`), tells it how the request
 * went (`observe`) and hands it the primary's outputs to shadow (`shadow`).
 *
 * Threads: everything here runs on the main thread. `resolve` and `observe` are on
 * the request path (a map lookup, a draw, a few array writes, no allocation);
 * shadows run in a later macrotask (setImmediate), after the primary's answer has
 * been written; guardrails are evaluated on a timer per guarded policy.
 *
 * Ownership: the router never holds a ModelVersion beyond a shadow run; it looks
 * versions up in the registry each time, so an unloaded version is never kept
 * alive or submitted to. A request's input tensors (views into the request body
 * or gRPC message, read-only) are referenced by the shadow job until its shadow
 * runs finish, which keeps their buffers alive.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Cancelled, ModelNotFound } from '../errors/errors.js';
import type { InferenceRequest } from '../types/inference.js';
import type { Tensor } from '../types/tensor.js';
import { PairComparison, type ComparisonSnapshot, type OutputDiff } from './compare.js';
import { Prng, randomSeed } from './hash.js';
import {
  type TrafficPolicy, parsePolicyText, policyJson, policyVersions, validatePolicy,
} from './policy.js';
import {
  type RouteTable, type RoutingRequest, type RoutingStrategy, NO_SHADOWS, buildTable, createStrategy, strategyNames,
} from './strategy.js';
import { SlidingWindow, type WindowSnapshot } from './window.js';

/** What the router needs of a loaded version (ModelVersion satisfies it). */
export interface ServingVersion {
  readonly name: string;
  readonly version: number;
  readonly threads: readonly number[];
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
/** The policy file's name, in the model's folder next to config.pbtxt. */
export const POLICY_FILE = 'traffic.json';

export const NO_ROUTE: Resolution = Object.freeze({ primary: undefined, shadows: NO_SHADOWS, version: '', route: undefined });

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

export type PolicySource = 'file' | 'admin';

export interface TrafficRouterOptions<V extends ServingVersion> {
  registry: VersionSource<V>;
  logger: Logger;
  /** Monotonic milliseconds (default performance.now). */
  now?: () => number;
  /** Wall-clock milliseconds for history (default Date.now). */
  wallClock?: () => number;
  /** Seed of the weighted draws (default random); tests replay splits with it. */
  seed?: number;
  /** Shadow runs in flight at once across all models (default 4); more are dropped. */
  maxShadowsInFlight?: number;
  /**
   * Work queued or running on a worker thread (WorkerPool.load). When given, a
   * shadow runs only if one of its version's threads is idle: a shadow batch
   * handed to a busy thread would make the next primary batch there wait for it.
   */
  threadLoad?: (thread: number) => number;
  /** At most one disagreement log line per pair per this many ms (default 1000). */
  disagreementLogMs?: number;
  /** How often `traffic.json` files are checked (default 1000 ms). */
  pollMs?: number;
  /** History entries kept per model (default 100). */
  historySize?: number;
  /** Evaluate guardrails on timers (default true; tests call evaluate()). */
  timers?: boolean;
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

interface PromotionState {
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
  /** traffic.json bookkeeping: content of the last file seen, and whether it applied. */
  fileStamp: string | undefined = undefined;
  fileApplied = false;
  constructor(model: string) {
    this.model = model;
  }
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

/** Failures that count against a route: everything but the client going away. */
function countsAsError(err: unknown): boolean {
  return !(err instanceof Cancelled);
}

const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

/** A shadow job: one answered request and the versions to copy it to. */
class ShadowJob<V extends ServingVersion> {
  constructor(
    readonly router: TrafficRouter<V>,
    readonly model: ModelTraffic,
    readonly request: InferenceRequest,
    readonly primary: V,
    readonly outputs: Tensor[],
    readonly shadows: readonly number[],
  ) {}
}

/** setImmediate callback: module-level, so scheduling a job allocates no closure. */
// `any`: the job's version type is its router's; the callback only hands it back.
function runShadowJob(job: ShadowJob<any>): void {
  job.router.runShadows(job);
}

export class TrafficRouter<V extends ServingVersion = ServingVersion> {
  readonly #o: TrafficRouterOptions<V>;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #wall: () => number;
  readonly #models = new Map<string, ModelTraffic>();
  readonly #prng: Prng;
  readonly #random: () => number;
  readonly #maxShadows: number;
  readonly #logMs: number;
  readonly #historySize: number;
  #executor: ShadowExecutor<V> | undefined = undefined;
  #shadowsInFlight = 0;
  #stopped = false;
  #poll: NodeJS.Timeout | undefined = undefined;
  #folders: (() => ReadonlyMap<string, string>) | undefined = undefined;

  constructor(o: TrafficRouterOptions<V>) {
    this.#o = o;
    this.#log = o.logger;
    this.#now = o.now ?? (() => performance.now());
    this.#wall = o.wallClock ?? Date.now;
    this.#prng = new Prng(o.seed ?? randomSeed());
    const prng = this.#prng;
    this.#random = () => prng.next();
    this.#maxShadows = o.maxShadowsInFlight ?? 4;
    this.#logMs = o.disagreementLogMs ?? 1000;
    this.#historySize = o.historySize ?? 100;
  }

  /** The data plane's way to run a shadow (set once, by the data plane). */
  bindExecutor(fn: ShadowExecutor<V>): void {
    this.#executor = fn;
  }

  // ---- the request path ----

  /**
   * Which version serves a request, and which versions shadow it. A request that
   * names a version bypasses the split (and is not shadowed).
   */
  resolve(modelName: string, requestedVersion: string, request: RoutingRequest): Resolution {
    if (requestedVersion !== '') return NO_ROUTE;
    const m = this.#models.get(modelName);
    if (m === undefined || m.strategy === undefined) return NO_ROUTE;
    const s = m.strategy;
    const i = s.primary(request);
    const shadows = s.shadows(request, i);
    const plain = m.plain[i + 1]!;
    if (shadows.length === 0) return plain;
    return { primary: plain.primary, shadows, version: plain.version, route: plain.route };
  }

  /**
   * The version to run a routed request on. The routed version may have been
   * swapped out of the registry an instant before the router heard of it: then
   * the registry's default serves, rather than failing a request that named no
   * version.
   */
  servingVersion(modelName: string, requestedVersion: string, r: Resolution): V {
    const reg = this.#o.registry;
    if (r.primary !== undefined) {
      try {
        return reg.resolve(modelName, r.version);
      } catch {
        // fall through to the default
      }
    }
    return reg.resolve(modelName, requestedVersion);
  }

  /** A routed request finished (err undefined: success). Allocation-free. */
  observe(r: Resolution, servedVersion: number, err: unknown, latencyMs: number): void {
    const route = r.route;
    if (route === undefined || route.version !== servedVersion) return;
    const failed = err !== undefined && countsAsError(err);
    route.counters.requests++;
    if (failed) route.counters.errors++;
    if (err !== undefined && !failed) return;
    route.window?.record(!failed, latencyMs, this.#now());
  }

  /**
   * Schedule shadow copies of an answered request. Call after the answer is
   * settled; the work starts in a later macrotask, so the primary's response is
   * written first. `outputs` are the primary's raw outputs (before classification).
   */
  shadow(r: Resolution, request: InferenceRequest, primary: V, outputs: Tensor[]): void {
    const m = this.#models.get(request.modelName);
    if (m === undefined || r.shadows.length === 0) return;
    setImmediate(runShadowJob, new ShadowJob(this, m, request, primary, outputs, r.shadows));
  }

  /** @internal Runs a shadow job (from setImmediate). */
  runShadows(job: ShadowJob<V>): void {
    const reg = this.#o.registry;
    for (const version of job.shadows) {
      if (version === job.primary.version) continue;
      const pair = this.#pair(job.model, job.primary.version, version);
      if (this.#stopped || this.#executor === undefined) { pair.dropped.stopped++; continue; }
      let sv: V;
      try {
        sv = reg.resolve(job.model.model, String(version));
      } catch {
        pair.dropped.not_loaded++;
        continue;
      }
      // Drop rather than queue: the shadow must never wait behind, or make wait,
      // real traffic. Busy = the shadow version has a queue or every instance is
      // running, the primary has a queue, no worker thread of the shadow is idle,
      // or enough shadows are already running.
      if (this.#shadowsInFlight >= this.#maxShadows || sv.batcher.queued > 0
        || sv.batcher.inFlight >= sv.threads.length || job.primary.batcher.queued > 0 || !this.#idleThread(sv)) {
        pair.dropped.busy++;
        continue;
      }
      const req = job.request;
      const copy: InferenceRequest = {
        modelName: req.modelName,
        modelVersion: String(version),
        id: req.id,
        parameters: req.parameters,
        inputs: req.inputs,
        // Raw outputs only (no classification), the same names as the primary's.
        outputs: job.outputs.map((t) => ({ name: t.name })),
        deadline: Infinity,
      };
      pair.submitted++;
      this.#shadowsInFlight++;
      let p: Promise<Tensor[]>;
      try {
        p = this.#executor(sv, copy);
      } catch (err) {
        p = Promise.reject(err);
      }
      p.then(
        (outs) => this.#compared(job, pair, outs),
        (err: unknown) => {
          pair.failed++;
          this.#log.debug({ model: job.model.model, primary: pair.primary, shadow: pair.shadow, err: (err as Error)?.message }, 'shadow request failed');
        },
      ).finally(() => { this.#shadowsInFlight--; });
    }
  }

  #idleThread(v: ServingVersion): boolean {
    const load = this.#o.threadLoad;
    if (load === undefined) return true;
    for (const t of v.threads) if (load(t) === 0) return true;
    return false;
  }

  #pair(m: ModelTraffic, primary: number, shadow: number): ShadowPair {
    const key = `${primary}>${shadow}`;
    let p = m.pairs.get(key);
    if (p === undefined) {
      p = new ShadowPair(primary, shadow);
      m.pairs.set(key, p);
    }
    return p;
  }

  #compared(job: ShadowJob<V>, pair: ShadowPair, outs: Tensor[]): void {
    pair.completed++;
    let diffs: OutputDiff[];
    try {
      diffs = pair.comparison.add(job.outputs, outs);
    } catch (err) {
      this.#log.error({ err, model: job.model.model }, 'shadow comparison failed');
      return;
    }
    const bad = diffs.filter((d) => !d.exact);
    if (bad.length === 0) return;
    const now = this.#now();
    if (now - pair.lastLog < this.#logMs) { pair.suppressed++; return; }
    pair.lastLog = now;
    this.#log.info({
      model: job.model.model, primary: pair.primary, shadow: pair.shadow, id: job.request.id,
      outputs: bad.map((d) => ({
        name: d.name, max_abs_diff: d.maxAbs,
        ...(d.topRows > 0 ? { top_class_differs: d.topDiffers, top_class_primary: d.topPrimary, top_class_shadow: d.topShadow } : {}),
      })),
      suppressed: pair.suppressed,
    }, 'shadow disagreement');
    pair.suppressed = 0;
  }

  // ---- policies ----

  #entry(model: string): ModelTraffic {
    let m = this.#models.get(model);
    if (m === undefined) {
      m = new ModelTraffic(model);
      this.#models.set(model, m);
    }
    return m;
  }

  #loaded(model: string): Set<number> {
    const vs = this.#o.registry.versions(model);
    if (vs.length === 0) throw new ModelNotFound(model);
    return new Set(vs.map((v) => v.version));
  }

  /**
   * Validate and install a policy (`json`: text or parsed value). Throws
   * InvalidArgument naming the bad field, or ModelNotFound; the model then keeps
   * its previous policy. Returns the new state.
   */
  setPolicy(model: string, json: string | unknown, source: PolicySource = 'admin'): TrafficState {
    const ctx = { model, loaded: this.#loaded(model), strategies: strategyNames() };
    const m = this.#entry(model);
    let policy: TrafficPolicy;
    try {
      policy = typeof json === 'string' ? parsePolicyText(json, ctx) : validatePolicy(json, ctx);
    } catch (err) {
      this.#history(m, { event: 'policy_rejected', source, reason: (err as Error).message });
      throw err;
    }
    this.#install(m, policy, source);
    return this.state(model);
  }

  /** Remove a model's policy: the registry's default serves every request. */
  clearPolicy(model: string, reason = 'policy removed'): void {
    const m = this.#models.get(model);
    if (m === undefined || m.policy === undefined) return;
    this.#uninstall(m);
    this.#history(m, { event: 'policy_cleared', reason });
    this.#log.info({ model, reason }, 'traffic policy cleared');
  }

  #install(m: ModelTraffic, p: TrafficPolicy, source: PolicySource): void {
    this.#uninstall(m);
    if (p.routes.length === 0 && p.shadows.length === 0) {
      this.#history(m, { event: 'policy_cleared', source, reason: 'empty policy' });
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
    m.promotion = p.promotion === undefined ? undefined : { step: -1, healthy: 0, windowStart: this.#now(), state: 'active' };
    if (m.promotion !== undefined) m.promotion.step = this.#stepOf(m);
    this.#rebuild(m);
    if (windowMs !== undefined && this.#o.timers !== false) {
      // Ten evaluations per window: a breach is acted on within a tenth of it.
      m.timer = setInterval(() => this.evaluate(m.model), Math.max(20, windowMs / 10));
      m.timer.unref();
    }
    this.#history(m, { event: 'policy_set', source, reason: `${p.strategy}: ${this.#describe(m)}` });
    this.#log.info({ model: m.model, source, policy: policyJson(p) }, 'traffic policy set');
  }

  #uninstall(m: ModelTraffic): void {
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

  /** New table, strategy and resolutions from the current weights (atomic for readers). */
  #rebuild(m: ModelTraffic): void {
    const p = m.policy!;
    const table = buildTable(m.model, p.routes.map((r) => r.version), m.weights, p.sticky, p.shadows);
    const plain: Resolution[] = [NO_ROUTE];
    for (const v of table.versions) {
      plain.push(Object.freeze({ primary: v, shadows: NO_SHADOWS, version: String(v), route: m.routes.get(v) }));
    }
    m.plain = plain;
    m.table = table;
    m.strategy = createStrategy(p.strategy, table, this.#random);
  }

  #describe(m: ModelTraffic): string {
    const t = m.table!;
    const parts = t.versions.map((v, i) => `v${v} ${round(t.total > 0 ? (100 * t.weights[i]!) / t.total : 0, 2)}%`);
    const sh = m.policy!.shadows.map((s) => `shadow v${s.version} x${s.fraction}`);
    return [...parts, ...sh].join(', ') || 'no routes';
  }

  #history(m: ModelTraffic, e: Omit<HistoryEntry, 'at'>): void {
    m.history.push({ at: new Date(this.#wall()).toISOString(), ...e });
    if (m.history.length > this.#historySize) m.history.splice(0, m.history.length - this.#historySize);
  }

  // ---- guardrails and promotion ----

  /** Evaluate one model's guardrails now (timers call it; tests may too). */
  evaluate(model: string): void {
    const m = this.#models.get(model);
    const p = m?.policy;
    if (m === undefined || p === undefined || p.guardrails === undefined || p.baseline === undefined) return;
    const g = p.guardrails;
    // Fully promoted (the baseline has no traffic left): nothing to compare against.
    if (m.weights[p.routes.findIndex((r) => r.version === p.baseline)] === 0) return;
    const now = this.#now();
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
      this.#history(m, { event: 'rollback', version, weight_from: from, weight_to: 0, reason, window: w, baseline_window: base });
      this.#log.warn({ model, version, reason, window: w, baseline: p.baseline, baseline_window: base }, 'canary rolled back');
      changed = true;
    }
    if (changed) {
      this.#rebuild(m);
      return;
    }
    this.#promote(m, now, verdicts);
  }

  /** The promotion step the canary's configured share is at (-1: below the first). */
  #stepOf(m: ModelTraffic): number {
    const p = m.policy!;
    const ci = p.routes.findIndex((r) => r.version !== p.baseline);
    const total = m.weights.reduce((a, b) => a + b, 0);
    const share = total > 0 ? (100 * m.weights[ci]!) / total : 0;
    let step = -1;
    p.promotion!.steps.forEach((s, k) => { if (share >= s - 1e-9) step = k; });
    return step;
  }

  #promote(m: ModelTraffic, now: number, verdicts: ReadonlyMap<number, boolean>): void {
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
    this.#rebuild(m);
    const reason = `promoted to ${share}% after ${p.promotion.healthy_windows} healthy window(s)${pr.state === 'complete' ? ' (last step)' : ''}`;
    this.#history(m, { event: 'promotion', version: canary, weight_from: from, weight_to: m.weights[ci], reason });
    this.#log.info({ model: m.model, version: canary, share }, 'canary promoted');
  }

  // ---- registry hooks ----

  /** A version became ready: a traffic.json that named it may apply now. */
  versionReady(v: ServingVersion): void {
    const m = this.#entry(v.name);
    if (!m.fileApplied) m.fileStamp = undefined;
    this.#checkFile(m);
  }

  /** A version was retired: routes to it lose their weight, shadows to it stop. */
  versionRetired(v: ServingVersion): void {
    const m = this.#models.get(v.name);
    if (m === undefined) return;
    const serving = this.#o.registry.versions(v.name);
    if (serving.some((x) => x.version === v.version)) return; // a reload replaced it
    if (serving.length === 0) {
      // The model is gone: forget it (policy, counters, history), as its other
      // metrics go; a later load starts over and reads traffic.json again.
      this.clearPolicy(v.name, 'model unloaded');
      this.#models.delete(v.name);
      return;
    }
    const p = m.policy;
    if (p === undefined || !policyVersions(p).has(v.version)) return;
    const i = p.routes.findIndex((r) => r.version === v.version);
    const from = i >= 0 ? m.weights[i]! : 0;
    if (i >= 0) m.weights[i] = 0;
    // Shadows to it are dropped at run time (not_loaded); keep the policy as is.
    this.#rebuild(m);
    this.#history(m, { event: 'version_unloaded', version: v.version, weight_from: from, weight_to: 0, reason: `version ${v.version} was unloaded` });
  }

  // ---- traffic.json ----

  /**
   * Watch `traffic.json` in each model's folder: read when a version loads and
   * whenever the file changes (polled every `pollMs`). `folders` is the
   * repository's current model -> folder map.
   */
  start(folders: () => ReadonlyMap<string, string>): void {
    this.#folders = folders;
    this.#stopped = false;
    if (this.#poll !== undefined) return;
    const tick = (): void => {
      this.#pollAll();
      if (this.#poll !== undefined) this.#poll = setTimeout(tick, this.#o.pollMs ?? 1000).unref();
    };
    this.#poll = setTimeout(tick, this.#o.pollMs ?? 1000).unref();
  }

  /** Stop watching files and evaluating guardrails; shadows not yet started are dropped. */
  stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#poll);
    this.#poll = undefined;
    for (const m of this.#models.values()) {
      if (m.timer !== undefined) clearInterval(m.timer);
      m.timer = undefined;
    }
    return Promise.resolve();
  }

  #pollAll(): void {
    for (const m of this.#models.values()) this.#checkFile(m);
  }

  /**
   * Apply the model's traffic.json if it changed since last seen. Synchronous on
   * purpose: called from the registry's ready hook right after a swap, the policy
   * is in force before any request can see the new versions without it; and
   * reading a few small files per poll costs microseconds. Never throws.
   */
  #checkFile(m: ModelTraffic): void {
    const model = m.model;
    const dir = this.#folders?.().get(model);
    if (dir === undefined) return;
    const path = join(dir, POLICY_FILE);
    let text: string;
    try {
      // The content is the stamp: an edit within the file system's timestamp
      // granularity that keeps the size would fool an mtime/size check.
      text = readFileSync(path, 'utf8');
    } catch {
      // No file. A policy that came from one is removed with it.
      if (m.fileStamp !== undefined && m.source === 'file') this.clearPolicy(model, `${POLICY_FILE} removed`);
      m.fileStamp = undefined;
      m.fileApplied = false;
      return;
    }
    if (text === m.fileStamp) return;
    m.fileStamp = text;
    if (this.#o.registry.versions(model).length === 0) { m.fileApplied = false; return; }
    try {
      this.setPolicy(model, text, 'file');
      m.fileApplied = true;
    } catch (err) {
      m.fileApplied = false;
      this.#log.error({ model, path, reason: (err as Error).message }, 'traffic policy rejected; the model keeps its previous policy');
    }
  }

  /** The strategy routing a model's requests now (read-only; undefined without a policy). */
  strategyOf(model: string): RoutingStrategy | undefined {
    return this.#models.get(model)?.strategy;
  }

  /** The header the model's sticky policy hashes, if any (front ends capture it). */
  routingHeader(model: string): string | undefined {
    const s = this.#models.get(model)?.policy?.sticky;
    return s?.source === 'header' ? s.name : undefined;
  }

  // ---- reading ----

  /** The admin view of a model's traffic. Throws ModelNotFound for an unknown model. */
  state(model: string): TrafficState {
    const m = this.#models.get(model);
    if (m === undefined) {
      this.#loaded(model);
      return {
        model, source: null, policy: null, strategy: null, baseline: null, routes: [], shadows: [],
        promotion: null, rollbacks: 0, promotions: 0, history: [],
      };
    }
    const p = m.policy;
    const now = this.#now();
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
      model,
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
  collect(): TrafficMetrics {
    const out: TrafficMetrics = { routes: [], shadows: [], models: [] };
    const now = this.#now();
    for (const m of this.#models.values()) {
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

  /** Shadow runs in flight now (all models). */
  get shadowsInFlight(): number {
    return this.#shadowsInFlight;
  }
}
