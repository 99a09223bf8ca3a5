/**
 * The traffic policy of one model: its schema, its validation and its frozen form.
 *
 * A policy lives in `traffic.json` in the model's folder (next to config.pbtxt) or
 * is set at runtime through the admin endpoint (`PUT /v2/models/{m}/traffic`, gRPC
 * `osprey.admin.TrafficAdmin/SetTrafficPolicy`). It is validated once, against the
 * versions of the model that are loaded at that moment, then frozen; an invalid
 * policy is rejected with an error naming the field, and the model keeps the policy
 * it had. Unknown fields are errors (a typo in a guardrail must not silently
 * disable it).
 *
 * Schema (every top-level field optional; `{}` means "no policy": the registry's
 * default version serves every request):
 *
 * ```jsonc
 * {
 *   // Weighted split of requests that name no version. Weights are relative
 *   // (95/5 and 0.95/0.05 are the same split), finite and >= 0, and at least one
 *   // is > 0. Versions are distinct and must be loaded.
 *   "routes": [ { "version": 1, "weight": 95 }, { "version": 2, "weight": 5 } ],
 *   // The version the guardrails compare the others (canaries) against and that
 *   // inherits a rolled-back canary's share. Default: the route with the largest
 *   // weight (the first one on a tie). Must be one of the routes.
 *   "baseline": 1,
 *   // Sticky assignment (A/B tests): hash a routing key to a point in [0, 1) and
 *   // give it the route whose cumulative-weight range holds the point, so a key
 *   // always lands on the same version while the weights hold. The key is a
 *   // request parameter (`"parameter": "user_id"`) or a request header / gRPC
 *   // metadata entry (`"header": "x-user-id"`, case-insensitive). Requests without
 *   // the key fall back to a random draw. `salt` (default: the model name) makes
 *   // different policies split the same keys independently.
 *   "sticky": { "parameter": "user_id", "salt": "exp-42" },
 *   // Versions that receive a copy of a share of the requests (after the answer
 *   // is sent); their outputs are compared with the primary's, never returned.
 *   // fraction in (0, 1], default 1.
 *   "shadows": [ { "version": 3, "fraction": 1.0 } ],
 *   // Automatic rollback: over a sliding window of `window_s` seconds, a canary
 *   // with at least `min_samples` requests whose error rate exceeds the
 *   // baseline's by more than `max_error_rate_delta`, or whose p99 latency is more
 *   // than `max_p99_ratio` times the baseline's (when the baseline has
 *   // `min_samples` too), gets weight 0. Defaults as shown.
 *   "guardrails": { "window_s": 30, "min_samples": 50, "max_error_rate_delta": 0.05, "max_p99_ratio": 2.0 },
 *   // Step promotion of the single canary (needs guardrails and exactly two
 *   // routes): after `healthy_windows` consecutive healthy windows, its share (in
 *   // percent of traffic) moves to the next step; a canary at 100 has replaced
 *   // the baseline.
 *   "promotion": { "steps": [5, 25, 50, 100], "healthy_windows": 2 },
 *   // Optional: a strategy by name from the strategy registry. Default: "shadow"
 *   // when shadows are given, else "sticky" when sticky is, else "weighted".
 *   "strategy": "weighted"
 * }
 * ```
 */
import { InvalidArgument } from '../errors/errors.js';

/** The policy file's name, in the model's folder next to config.pbtxt. */
export const POLICY_FILE = 'traffic.json';

export interface RouteSpec { readonly version: number; readonly weight: number }
export interface ShadowSpec { readonly version: number; readonly fraction: number }

export interface StickySpec {
  readonly source: 'parameter' | 'header';
  /** Parameter name as given; header names lower-cased. */
  readonly name: string;
  readonly salt: string;
}

export interface Guardrails {
  readonly window_s: number;
  readonly min_samples: number;
  readonly max_error_rate_delta: number;
  readonly max_p99_ratio: number;
}

export interface Promotion {
  readonly steps: readonly number[];
  readonly healthy_windows: number;
}

/** A validated, deep-frozen policy. */
export interface TrafficPolicy {
  readonly strategy: string;
  readonly routes: readonly RouteSpec[];
  /** undefined only when there are no routes. */
  readonly baseline: number | undefined;
  readonly sticky: StickySpec | undefined;
  readonly shadows: readonly ShadowSpec[];
  readonly guardrails: Guardrails | undefined;
  readonly promotion: Promotion | undefined;
}

export const DEFAULT_GUARDRAILS: Guardrails = Object.freeze({
  window_s: 30, min_samples: 50, max_error_rate_delta: 0.05, max_p99_ratio: 2.0,
});

const TOP_FIELDS = ['routes', 'baseline', 'sticky', 'shadows', 'guardrails', 'promotion', 'strategy'];

export interface PolicyContext {
  model: string;
  /** Versions of the model that are loaded (serving) now. */
  loaded: ReadonlySet<number>;
  /** Names of the registered strategies. */
  strategies: readonly string[];
}

function policyError(model: string, field: string, message: string): InvalidArgument {
  return new InvalidArgument(`invalid traffic policy for model '${model}': ${field === '' ? '' : `${field} `}${message}`);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse `traffic.json` text (or an admin request body) and validate it. */
export function parsePolicyText(text: string, ctx: PolicyContext): TrafficPolicy {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw policyError(ctx.model, '', `is not valid JSON: ${(err as Error).message}`);
  }
  return validatePolicy(value, ctx);
}

/** Validate a parsed policy and return its frozen form. */
export function validatePolicy(value: unknown, ctx: PolicyContext): TrafficPolicy {
  const model = ctx.model;
  const fail = (field: string, message: string): never => { throw policyError(model, field, message); };
  if (!isObject(value)) fail('', `must be a JSON object, got ${typeName(value)}`);
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!TOP_FIELDS.includes(k)) fail('', `has unknown field '${k}' (known: ${TOP_FIELDS.join(', ')})`);
  }

  const version = (field: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) fail(field, `must be a positive integer, got ${typeName(v)}`);
    const n = v as number;
    if (!ctx.loaded.has(n)) {
      const have = [...ctx.loaded].sort((a, b) => a - b).join(', ');
      fail(field, `names version ${n}, which is not loaded (loaded: ${have === '' ? 'none' : have})`);
    }
    return n;
  };
  const fields = (field: string, v: unknown, known: readonly string[]): Record<string, unknown> => {
    if (!isObject(v)) fail(field, `must be an object, got ${typeName(v)}`);
    for (const k of Object.keys(v as object)) if (!known.includes(k)) fail(field, `has unknown field '${k}' (known: ${known.join(', ')})`);
    return v as Record<string, unknown>;
  };
  const num = (field: string, v: unknown, ok: (n: number) => boolean, what: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(field, `must be ${what}, got ${typeName(v)}`);
    return v as number;
  };

  // routes
  const routes: RouteSpec[] = [];
  if (o.routes !== undefined) {
    if (!Array.isArray(o.routes)) fail('routes', `must be an array, got ${typeName(o.routes)}`);
    const seen = new Set<number>();
    (o.routes as unknown[]).forEach((r, i) => {
      const f = `routes[${i}]`;
      const ro = fields(f, r, ['version', 'weight']);
      if (ro.version === undefined) fail(`${f}.version`, 'is required');
      if (ro.weight === undefined) fail(`${f}.weight`, 'is required');
      const v = version(`${f}.version`, ro.version);
      if (seen.has(v)) fail(`${f}.version`, `repeats version ${v}; each version may appear once`);
      seen.add(v);
      const w = num(`${f}.weight`, ro.weight, (n) => n >= 0, 'a finite number >= 0');
      routes.push(Object.freeze({ version: v, weight: w }));
    });
    if (routes.length > 0 && !routes.some((r) => r.weight > 0)) fail('routes', 'must give at least one route a weight > 0');
  }

  // baseline
  let baseline: number | undefined;
  if (o.baseline !== undefined) {
    if (routes.length === 0) fail('baseline', 'needs routes');
    baseline = version('baseline', o.baseline);
    if (!routes.some((r) => r.version === baseline)) fail('baseline', `names version ${baseline}, which is not one of the routes`);
    if (routes.find((r) => r.version === baseline)!.weight === 0) fail('baseline', `names version ${baseline}, whose weight is 0`);
  } else if (routes.length > 0) {
    let best = routes[0]!;
    for (const r of routes) if (r.weight > best.weight) best = r;
    baseline = best.version;
  }

  // sticky
  let sticky: StickySpec | undefined;
  if (o.sticky !== undefined) {
    const so = fields('sticky', o.sticky, ['parameter', 'header', 'salt']);
    const hasP = so.parameter !== undefined;
    const hasH = so.header !== undefined;
    if (hasP === hasH) fail('sticky', "must name exactly one of 'parameter' or 'header'");
    const key = hasP ? 'parameter' : 'header';
    const name = so[key];
    if (typeof name !== 'string' || name === '') fail(`sticky.${key}`, `must be a non-empty string, got ${typeName(name)}`);
    if (hasH && !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name as string)) fail('sticky.header', `must be a valid header name, got ${JSON.stringify(name)}`);
    if (so.salt !== undefined && typeof so.salt !== 'string') fail('sticky.salt', `must be a string, got ${typeName(so.salt)}`);
    if (routes.length === 0) fail('sticky', 'needs routes to choose between');
    sticky = Object.freeze({
      source: key,
      name: hasH ? (name as string).toLowerCase() : (name as string),
      salt: (so.salt as string | undefined) ?? model,
    });
  }

  // shadows
  const shadows: ShadowSpec[] = [];
  if (o.shadows !== undefined) {
    if (!Array.isArray(o.shadows)) fail('shadows', `must be an array, got ${typeName(o.shadows)}`);
    const seen = new Set<number>();
    (o.shadows as unknown[]).forEach((s, i) => {
      const f = `shadows[${i}]`;
      const so = fields(f, s, ['version', 'fraction']);
      if (so.version === undefined) fail(`${f}.version`, 'is required');
      const v = version(`${f}.version`, so.version);
      if (seen.has(v)) fail(`${f}.version`, `repeats version ${v}; each version may appear once`);
      seen.add(v);
      const fr = so.fraction === undefined ? 1 : num(`${f}.fraction`, so.fraction, (n) => n > 0 && n <= 1, 'a number in (0, 1]');
      shadows.push(Object.freeze({ version: v, fraction: fr }));
    });
  }

  // guardrails
  let guardrails: Guardrails | undefined;
  if (o.guardrails !== undefined) {
    const g = fields('guardrails', o.guardrails, Object.keys(DEFAULT_GUARDRAILS));
    const d = DEFAULT_GUARDRAILS;
    guardrails = Object.freeze({
      window_s: g.window_s === undefined ? d.window_s : num('guardrails.window_s', g.window_s, (n) => n >= 0.1 && n <= 86400, 'a number of seconds in [0.1, 86400]'),
      min_samples: g.min_samples === undefined ? d.min_samples : num('guardrails.min_samples', g.min_samples, (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1'),
      max_error_rate_delta: g.max_error_rate_delta === undefined ? d.max_error_rate_delta : num('guardrails.max_error_rate_delta', g.max_error_rate_delta, (n) => n >= 0 && n <= 1, 'a number in [0, 1]'),
      max_p99_ratio: g.max_p99_ratio === undefined ? d.max_p99_ratio : num('guardrails.max_p99_ratio', g.max_p99_ratio, (n) => n >= 1, 'a number >= 1'),
    });
    if (routes.length < 2) fail('guardrails', 'need at least two routes (a baseline and a canary)');
  }

  // promotion
  let promotion: Promotion | undefined;
  if (o.promotion !== undefined) {
    const p = fields('promotion', o.promotion, ['steps', 'healthy_windows']);
    if (guardrails === undefined) fail('promotion', 'needs guardrails (a step is taken after healthy guardrail windows)');
    if (routes.length !== 2) fail('promotion', `needs exactly two routes (a baseline and one canary), got ${routes.length}`);
    if (!Array.isArray(p.steps) || p.steps.length === 0) fail('promotion.steps', `must be a non-empty array, got ${typeName(p.steps)}`);
    const steps: number[] = [];
    (p.steps as unknown[]).forEach((s, i) => {
      const n = num(`promotion.steps[${i}]`, s, (x) => x > 0 && x <= 100, 'a percentage in (0, 100]');
      if (i > 0 && n <= steps[i - 1]!) fail(`promotion.steps[${i}]`, `must be greater than the step before it (${steps[i - 1]})`);
      steps.push(n);
    });
    const hw = p.healthy_windows === undefined ? 1 : num('promotion.healthy_windows', p.healthy_windows, (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1');
    promotion = Object.freeze({ steps: Object.freeze(steps), healthy_windows: hw });
  }

  // strategy
  const derived = shadows.length > 0 ? 'shadow' : sticky !== undefined ? 'sticky' : 'weighted';
  let strategy = derived;
  if (o.strategy !== undefined) {
    if (typeof o.strategy !== 'string' || !ctx.strategies.includes(o.strategy)) {
      fail('strategy', `must be one of ${ctx.strategies.map((s) => `'${s}'`).join(', ')}, got ${typeName(o.strategy)}`);
    }
    strategy = o.strategy as string;
    if (strategy === 'sticky' && sticky === undefined) fail('strategy', "'sticky' needs the sticky field");
    if ((strategy === 'weighted' || strategy === 'sticky') && shadows.length > 0) fail('strategy', `'${strategy}' does not send shadows; use 'shadow' or leave strategy out`);
  }

  return Object.freeze({
    strategy,
    routes: Object.freeze(routes),
    baseline,
    sticky,
    shadows: Object.freeze(shadows),
    guardrails,
    promotion,
  });
}

/** The policy in the file/admin schema, defaults filled in (what GET shows). */
export function policyJson(p: TrafficPolicy): Record<string, unknown> {
  const out: Record<string, unknown> = { strategy: p.strategy };
  if (p.routes.length > 0) out.routes = p.routes.map((r) => ({ version: r.version, weight: r.weight }));
  if (p.baseline !== undefined) out.baseline = p.baseline;
  if (p.sticky !== undefined) out.sticky = { [p.sticky.source]: p.sticky.name, salt: p.sticky.salt };
  if (p.shadows.length > 0) out.shadows = p.shadows.map((s) => ({ version: s.version, fraction: s.fraction }));
  if (p.guardrails !== undefined) out.guardrails = { ...p.guardrails };
  if (p.promotion !== undefined) out.promotion = { steps: [...p.promotion.steps], healthy_windows: p.promotion.healthy_windows };
  return out;
}

/** Every version a policy names. */
export function policyVersions(p: TrafficPolicy): Set<number> {
  const s = new Set<number>();
  for (const r of p.routes) s.add(r.version);
  for (const sh of p.shadows) s.add(sh.version);
  return s;
}
