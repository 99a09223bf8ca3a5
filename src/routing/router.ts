/**
 * The traffic router: per model, which version serves a request that names none,
 * and what the data plane, the registry hooks, the model-control watcher and the
 * admin endpoints may ask of it. Its parts, one job each: model-traffic.ts (the
 * per-model state, policy install), guardrails.ts (rollback and promotion),
 * shadow.ts (shadow copies and their comparison), view.ts (admin view, metrics
 * snapshot). It reads no files: `traffic.json` is read by the repository watcher
 * (src/control/), which hands its text to `policyFile`.
 *
 * Threads: everything here runs on the main thread. `resolve` and `observe` are on
 * the request path (a map lookup, a draw, a few array writes, no allocation).
 *
 * Ownership: the router never holds a ModelVersion beyond a shadow run; it looks
 * versions up in the registry each time, so an unloaded version is never kept
 * alive or submitted to.
 */
import type { Logger } from 'pino';
import { Cancelled, ModelNotFound } from '../errors/errors.js';
import type { InferenceRequest } from '../types/inference.js';
import type { Tensor } from '../types/tensor.js';
import { evaluate, stepOf } from './guardrails.js';
import { Prng, randomSeed } from './hash.js';
import {
  type PolicySource, type Resolution, type ServingVersion, type ShadowExecutor, type TrafficContext, type VersionSource,
  ModelTraffic, NO_ROUTE, addHistory, install, rebuild, uninstall,
} from './model-traffic.js';
import { POLICY_FILE, type TrafficPolicy, parsePolicyText, policyVersions, validatePolicy } from './policy.js';
import { ShadowRunner } from './shadow.js';
import { type RoutingRequest, type RoutingStrategy, strategyNames } from './strategy.js';
import { type TrafficMetrics, type TrafficState, collectMetrics, emptyState, trafficState } from './view.js';

export {
  type HistoryEntry, type PolicySource, type Resolution, type ServingVersion, type ShadowExecutor, type VersionSource, NO_ROUTE,
} from './model-traffic.js';
export type { TrafficMetrics, TrafficState } from './view.js';

export interface TrafficRouterOptions<V extends ServingVersion> {
  registry: VersionSource<V>;
  logger: Logger;
  /** Runs a shadow copy (server.ts passes the data plane's); absent: shadows are dropped. */
  shadowExecutor?: ShadowExecutor<V>;
  /** Monotonic milliseconds (default performance.now). */
  now?: () => number;
  /** Wall-clock milliseconds for history (default Date.now). */
  wallClock?: () => number;
  /** Seed of the weighted draws (default random); tests replay splits with it. */
  seed?: number;
  /** Shadow runs in flight at once across all models (default 4); more are dropped. */
  maxShadowsInFlight?: number;
  /** At most one disagreement log line per pair per this many ms (default 1000). */
  disagreementLogMs?: number;
  /** History entries kept per model (default 100). */
  historySize?: number;
  /** Evaluate guardrails on timers (default true; tests call evaluate()). */
  timers?: boolean;
}

/** Failures that count against a route: everything but the client going away. */
function countsAsError(err: unknown): boolean {
  return !(err instanceof Cancelled);
}

export class TrafficRouter<V extends ServingVersion = ServingVersion> {
  readonly #o: TrafficRouterOptions<V>;
  readonly #ctx: TrafficContext;
  readonly #models = new Map<string, ModelTraffic>();
  readonly #shadows: ShadowRunner<V>;
  #stopped = false;

  constructor(o: TrafficRouterOptions<V>) {
    this.#o = o;
    const prng = new Prng(o.seed ?? randomSeed());
    const now = o.now ?? (() => performance.now());
    this.#ctx = { log: o.logger, now, wall: o.wallClock ?? Date.now, random: () => prng.next(), historySize: o.historySize ?? 100 };
    this.#shadows = new ShadowRunner<V>({
      registry: o.registry, executor: o.shadowExecutor, logger: o.logger, now,
      maxInFlight: o.maxShadowsInFlight ?? 4, disagreementLogMs: o.disagreementLogMs ?? 1000,
    });
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
    route.window?.record(!failed, latencyMs, this.#ctx.now());
  }

  /**
   * Schedule shadow copies of an answered request. Call after the answer is
   * settled; the work starts in a later macrotask, so the primary's response is
   * written first. `outputs` are the primary's raw outputs (before classification).
   */
  shadow(r: Resolution, request: InferenceRequest, primary: V, outputs: Tensor[]): void {
    const m = this.#models.get(request.modelName);
    if (m === undefined || r.shadows.length === 0) return;
    this.#shadows.schedule(m, r.shadows, request, primary, outputs);
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
      addHistory(this.#ctx, m, { event: 'policy_rejected', source, reason: (err as Error).message });
      throw err;
    }
    const timed = this.#o.timers !== false && !this.#stopped;
    install(this.#ctx, m, policy, source, stepOf, timed ? () => this.evaluate(model) : undefined);
    return this.state(model);
  }

  /** Remove a model's policy: the registry's default serves every request. */
  clearPolicy(model: string, reason = 'policy removed'): void {
    const m = this.#models.get(model);
    if (m === undefined || m.policy === undefined) return;
    uninstall(m);
    addHistory(this.#ctx, m, { event: 'policy_cleared', reason });
    this.#ctx.log.info({ model, reason }, 'traffic policy cleared');
  }

  /**
   * The model's `traffic.json` as the repository watcher read it (undefined: there
   * is none). The watcher calls this when the text changes, and for a model whose
   * version just became ready (so the policy is in force before any request sees
   * the new versions). A file policy applies while the model has versions loaded;
   * one that does not validate is logged and the model keeps its previous policy.
   * Removing the file removes a policy that came from it. Never throws.
   */
  policyFile(model: string, text: string | undefined): void {
    if (text === undefined && !this.#models.has(model)) return;
    const m = this.#entry(model);
    if (text === undefined) {
      if (m.fileText !== undefined && m.source === 'file') this.clearPolicy(model, `${POLICY_FILE} removed`);
      m.fileText = undefined;
      m.fileApplied = false;
      return;
    }
    if (text === m.fileText && m.fileApplied) return;
    m.fileText = text;
    m.fileApplied = false;
    if (this.#o.registry.versions(model).length === 0) return;
    try {
      this.setPolicy(model, text, 'file');
      m.fileApplied = true;
    } catch (err) {
      this.#ctx.log.error({ model, file: POLICY_FILE, reason: (err as Error).message }, 'traffic policy rejected; the model keeps its previous policy');
    }
  }

  // ---- guardrails and promotion ----

  /** Evaluate one model's guardrails now (timers call it; tests may too). */
  evaluate(model: string): void {
    const m = this.#models.get(model);
    if (m !== undefined) evaluate(this.#ctx, m);
  }

  // ---- registry hooks ----

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
    rebuild(this.#ctx, m);
    addHistory(this.#ctx, m, { event: 'version_unloaded', version: v.version, weight_from: from, weight_to: 0, reason: `version ${v.version} was unloaded` });
  }

  /** Stop evaluating guardrails; shadows not yet started are dropped. */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#shadows.stop();
    for (const m of this.#models.values()) {
      if (m.timer !== undefined) clearInterval(m.timer);
      m.timer = undefined;
    }
    return Promise.resolve();
  }

  // ---- reading ----

  /** The admin view of a model's traffic. Throws ModelNotFound for an unknown model. */
  state(model: string): TrafficState {
    // An entry may hold the traffic.json of a model not loaded (yet): unknown all the same.
    this.#loaded(model);
    const m = this.#models.get(model);
    return m === undefined ? emptyState(model) : trafficState(m, this.#ctx.now());
  }

  /** Every counter and gauge, as plain numbers, for the metrics exporter. */
  collect(): TrafficMetrics {
    return collectMetrics(this.#models.values(), this.#ctx.now());
  }

  /** Shadow runs in flight now (all models). */
  get shadowsInFlight(): number {
    return this.#shadows.inFlight;
  }
}
