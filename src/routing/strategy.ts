/**
 * Routing strategies behind one interface, registered by name (as grpc-js
 * registers load balancers). A strategy turns a request into a primary route and
 * a list of shadow versions, from a frozen `RouteTable`: the policy's routes with
 * their current effective weights (guardrails and promotion change weights by
 * building a new table and a new strategy, never by mutating one, so a request
 * sees one consistent table).
 *
 * Every registered strategy passes the same conformance suite
 * (test/routing/conformance.test.ts): the split holds within binomial bounds, keyed
 * strategies send a key to the same version every time, and shadows never change
 * the primary.
 *
 * Hot path: `primary` is a draw (PRNG or key hash) and a linear scan of a few
 * cumulative weights; `shadows` returns a precomputed frozen array unless a
 * shadow's fraction is below 1.
 */
import type { Params } from '../types/tensor.js';
import { fnv1a32, keyPoint } from './hash.js';
import type { ShadowSpec, StickySpec } from './policy.js';

/** What a strategy may read from a request. `InferenceRequest` satisfies it. */
export interface RoutingRequest {
  readonly parameters: Params;
  /** Header / gRPC metadata values the front end captured (lower-case names). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A policy's routes with their current weights. Frozen. */
export interface RouteTable {
  readonly model: string;
  /** Route versions, in policy order. */
  readonly versions: readonly number[];
  /** Current (effective) weights, same order; relative. */
  readonly weights: readonly number[];
  /** Cumulative shares: route i owns [cumulative[i-1], cumulative[i]). Last positive one is exactly 1. */
  readonly cumulative: Float64Array;
  /** Sum of the weights; 0 means no route has traffic (the registry's default serves). */
  readonly total: number;
  readonly sticky: StickySpec | undefined;
  readonly shadows: readonly ShadowSpec[];
}

export interface RoutingStrategy {
  readonly name: string;
  /** True when the same routing key always gets the same primary (while weights hold). */
  readonly keyed: boolean;
  /** Index of the primary route in `table.versions`; -1 for none (registry default). */
  primary(req: RoutingRequest): number;
  /** Shadow versions for a request whose primary route is `route` (-1: default). Never the primary's own version. */
  shadows(req: RoutingRequest, route: number): readonly number[];
}

/** `random` draws uniformly from [0, 1) (the policy's PRNG). */
export type StrategyFactory = (table: RouteTable, random: () => number) => RoutingStrategy;

export const NO_SHADOWS: readonly number[] = Object.freeze([]);

export function buildTable(model: string, versions: readonly number[], weights: readonly number[], sticky: StickySpec | undefined, shadows: readonly ShadowSpec[]): RouteTable {
  const cumulative = new Float64Array(versions.length);
  let total = 0;
  for (const w of weights) total += w;
  let acc = 0;
  let lastPositive = -1;
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i]!;
    cumulative[i] = total > 0 ? acc / total : 0;
    if (weights[i]! > 0) lastPositive = i;
  }
  // Rounding must not leave a sliver of [0, 1) unowned.
  for (let i = lastPositive; i >= 0 && i < cumulative.length; i++) cumulative[i] = 1;
  return Object.freeze({
    model,
    versions: Object.freeze([...versions]),
    weights: Object.freeze([...weights]),
    cumulative,
    total,
    sticky,
    shadows,
  });
}

/** The route owning point `u` in [0, 1); -1 when no route has weight. */
export function routeAt(table: RouteTable, u: number): number {
  if (table.total <= 0) return -1;
  const c = table.cumulative;
  for (let i = 0; i < c.length; i++) if (u < c[i]!) return i;
  return c.length - 1;
}

/** The routing key of a request under a sticky spec, or undefined when it carries none. */
export function routingKey(req: RoutingRequest, sticky: StickySpec): string | undefined {
  if (sticky.source === 'parameter') {
    const v = req.parameters[sticky.name];
    return v === undefined ? undefined : String(v);
  }
  return req.headers?.[sticky.name];
}

// ---- the built-in strategies ----

let shadowSeeds = 0;

/** A weighted random split: each request draws from the policy's PRNG. */
class WeightedStrategy implements RoutingStrategy {
  readonly name: string = 'weighted';
  readonly keyed: boolean = false;
  readonly table: RouteTable;
  readonly random: () => number;
  constructor(table: RouteTable, random: () => number) {
    this.table = table;
    this.random = random;
  }
  primary(_req: RoutingRequest): number {
    return routeAt(this.table, this.random());
  }
  shadows(_req: RoutingRequest, _route: number): readonly number[] {
    return NO_SHADOWS;
  }
}

/**
 * Sticky (A/B): the key's hash picks the route, so a key keeps its version while
 * the weights hold (and moves only if its point leaves its route's range when they
 * change). Requests without a key draw at random.
 */
class StickyStrategy extends WeightedStrategy {
  override readonly name: string = 'sticky';
  override readonly keyed: boolean = true;
  override primary(req: RoutingRequest): number {
    const t = this.table;
    const key = t.sticky === undefined ? undefined : routingKey(req, t.sticky);
    return routeAt(t, key === undefined ? this.random() : keyPoint(key, t.sticky!.salt));
  }
}

/**
 * Shadow: chooses the primary as the sticky strategy does when the policy is
 * sticky (else as the weighted one), then adds each shadow with its fraction.
 * The primary choice consumes the PRNG exactly as the inner strategy would, and
 * shadow draws use a separate generator, so adding shadows changes no primary.
 */
class ShadowStrategy implements RoutingStrategy {
  readonly name = 'shadow';
  readonly keyed: boolean;
  readonly #inner: RoutingStrategy;
  readonly #table: RouteTable;
  /** Per primary route (index + 1; slot 0 = registry default): shadows at fraction 1. */
  readonly #always: ReadonlyArray<readonly number[]>;
  readonly #partial: boolean;
  #shadowState: number;

  constructor(table: RouteTable, random: () => number) {
    this.#table = table;
    this.#inner = table.sticky !== undefined ? new StickyStrategy(table, random) : new WeightedStrategy(table, random);
    this.keyed = this.#inner.keyed;
    this.#partial = table.shadows.some((s) => s.fraction < 1);
    const always: Array<readonly number[]> = [];
    for (let r = -1; r < table.versions.length; r++) {
      const primary = r < 0 ? undefined : table.versions[r];
      const list = table.shadows.filter((s) => s.fraction >= 1 && s.version !== primary).map((s) => s.version);
      always.push(list.length === 0 ? NO_SHADOWS : Object.freeze(list));
    }
    this.#always = always;
    // Its own generator: drawing for shadows must not shift the primary's draws.
    this.#shadowState = (fnv1a32(table.model) ^ Math.imul(++shadowSeeds, 0x9e3779b9)) >>> 0;
  }

  primary(req: RoutingRequest): number {
    return this.#inner.primary(req);
  }

  shadows(_req: RoutingRequest, route: number): readonly number[] {
    const base = this.#always[route + 1]!;
    if (!this.#partial) return base;
    const primary = route < 0 ? undefined : this.#table.versions[route];
    let out: number[] | undefined;
    for (const s of this.#table.shadows) {
      if (s.fraction >= 1 || s.version === primary) continue;
      if (this.#draw() < s.fraction) (out ??= [...base]).push(s.version);
    }
    return out ?? base;
  }

  /** mulberry32 step on the shadow generator's own state. */
  #draw(): number {
    let t = (this.#shadowState = (this.#shadowState + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

// ---- the registry ----

const registry = new Map<string, StrategyFactory>();

/** Register a strategy by name (a later registration of a name replaces it). */
export function registerStrategy(name: string, factory: StrategyFactory): void {
  registry.set(name, factory);
}

export function strategyNames(): string[] {
  return [...registry.keys()];
}

export function createStrategy(name: string, table: RouteTable, random: () => number): RoutingStrategy {
  const f = registry.get(name);
  if (f === undefined) throw new Error(`unknown routing strategy '${name}'`);
  return f(table, random);
}

registerStrategy('weighted', (t, r) => new WeightedStrategy(t, r));
registerStrategy('sticky', (t, r) => new StickyStrategy(t, r));
registerStrategy('shadow', (t, r) => new ShadowStrategy(t, r));
