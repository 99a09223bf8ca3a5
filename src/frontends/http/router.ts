/**
 * URL path -> route, for the KServe v2 / Triton HTTP paths. Pure (no uWS), so it is
 * tested on its own. Path segments are URL-decoded, so model names may hold any
 * character but '/'. Methods are lower case, as uWS's getMethod() gives them.
 */
import { checkVersion as checkModelVersion } from '../../codec/version.js';
import type { RestrictedCategory } from '../../config/restricted.js';
import { InvalidArgument } from '../../errors/errors.js';

export type ModelRouteKind = 'model-metadata' | 'model-ready' | 'model-config' | 'model-infer' | 'model-stats';

export type Route =
  | { kind: 'health-live' | 'health-ready' | 'server-metadata' | 'all-stats' | 'logging' }
  | { kind: ModelRouteKind; model: string; version: string }
  /** `repository`: the `/v2/repository/{r}/...` form names one (refused: 501, as Triton does). */
  | { kind: 'repo-index'; repository?: string }
  | { kind: 'repo-load' | 'repo-unload'; model: string; repository?: string }
  | { kind: 'model-traffic'; model: string }
  | { kind: 'shared-memory'; memory: 'system' | 'cuda'; op: 'status' | 'register' | 'unregister'; region: string };

export interface RouteMatch {
  route: Route;
  /** Methods the path answers to. */
  methods: readonly string[];
}

const GET = ['get'] as const;
const POST = ['post'] as const;
const GET_POST = ['get', 'post'] as const;
const GET_PUT_POST = ['get', 'put', 'post'] as const;

const MODEL_SUFFIX: Record<string, { kind: ModelRouteKind; methods: readonly string[] }> = {
  ready: { kind: 'model-ready', methods: GET },
  config: { kind: 'model-config', methods: GET },
  infer: { kind: 'model-infer', methods: POST },
  stats: { kind: 'model-stats', methods: GET },
};

function decode(segment: string): string {
  // Most names hold no escape: skip decodeURIComponent (and its try) for them.
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new InvalidArgument(`malformed percent-encoding in URL path segment '${segment}'`);
  }
}

/**
 * `path.split('/')`. Every request's path is a string V8 has not seen, for which
 * String.prototype.split goes to the runtime: matchRoute of a fresh
 * '/v2/models/tabular/infer' took 550-620 ns with it, 330-420 with this (Node 20).
 */
function segments(path: string): string[] {
  const out: string[] = [];
  let from = 0;
  for (;;) {
    const to = path.indexOf('/', from);
    if (to < 0) {
      out.push(path.slice(from));
      return out;
    }
    out.push(path.slice(from, to));
    from = to + 1;
  }
}

/** undefined: no such path (404). Throws InvalidArgument on bad percent-encoding. */
export function matchRoute(path: string): RouteMatch | undefined {
  const s = segments(path);
  if (s[0] !== '' || s[1] !== 'v2') return undefined;
  const n = s.length;
  if (n === 2) return { route: { kind: 'server-metadata' }, methods: GET };
  switch (s[2]) {
    case 'models': return matchModels(s);
    case 'health':
      if (n === 4 && s[3] === 'live') return { route: { kind: 'health-live' }, methods: GET };
      if (n === 4 && s[3] === 'ready') return { route: { kind: 'health-ready' }, methods: GET };
      return undefined;
    case 'repository': return matchRepository(s);
    case 'logging':
      return n === 3 ? { route: { kind: 'logging' }, methods: GET_POST } : undefined;
    case 'systemsharedmemory': return matchSharedMemory(s, 'system');
    case 'cudasharedmemory': return matchSharedMemory(s, 'cuda');
    default: return undefined;
  }
}

/** /v2/models/stats, /v2/models/{m}[/versions/{v}][/ready|/config|/infer|/stats]. */
function matchModels(s: string[]): RouteMatch | undefined {
  const n = s.length;
  if (n === 4 && s[3] === 'stats') return { route: { kind: 'all-stats' }, methods: GET };
  if (n < 4 || s[3] === '') return undefined;
  const model = decode(s[3]!);
  let i = 4;
  let version = '';
  if (s[4] === 'versions') {
    if (n < 6 || s[5] === '') return undefined;
    version = decode(s[5]!);
    i = 6;
  }
  if (i === n) return { route: { kind: 'model-metadata', model, version }, methods: GET };
  // /v2/models/{m}/traffic: the model's traffic policy (model-level: no version).
  if (i === 4 && n === 5 && s[4] === 'traffic') return { route: { kind: 'model-traffic', model }, methods: GET_PUT_POST };
  if (i + 1 !== n) return undefined;
  const suffix = MODEL_SUFFIX[s[i]!];
  if (suffix === undefined) return undefined;
  return { route: { kind: suffix.kind, model, version }, methods: suffix.methods };
}

/**
 * /v2/repository[/{r}]/index and /v2/repository[/{r}]/models/{m}/load|unload. Triton
 * matches the `{r}` forms too, and answers them 501 (the handler's to say).
 */
function matchRepository(s: string[]): RouteMatch | undefined {
  const n = s.length;
  // With a repository segment everything after it moves one place on.
  const named = n === 5 || n === 7;
  const at = named ? 4 : 3;
  if (named && s[3] === '') return undefined;
  const repository = named ? { repository: decode(s[3]!) } : undefined;
  if (n === at + 1 && s[at] === 'index') return { route: { kind: 'repo-index', ...repository }, methods: POST };
  if (n === at + 3 && s[at] === 'models' && s[at + 1] !== '') {
    const model = decode(s[at + 1]!);
    if (s[at + 2] === 'load') return { route: { kind: 'repo-load', model, ...repository }, methods: POST };
    if (s[at + 2] === 'unload') return { route: { kind: 'repo-unload', model, ...repository }, methods: POST };
  }
  return undefined;
}

/** `[/region/{r}]/status` (GET), `/region/{r}/register` and `[/region/{r}]/unregister` (POST); no region = all. */
function matchSharedMemory(s: string[], memory: 'system' | 'cuda'): RouteMatch | undefined {
  const n = s.length;
  let op: string | undefined;
  let region = '';
  if (n === 4) op = s[3];
  // Decoded as model names are: tritonclient quotes the region name into the path.
  else if (n === 6 && s[3] === 'region' && s[4] !== '') { op = s[5]; region = decode(s[4]!); }
  if (op === 'status') return { route: { kind: 'shared-memory', memory, op, region }, methods: GET };
  if (op === 'unregister' || (op === 'register' && n === 6)) return { route: { kind: 'shared-memory', memory, op, region }, methods: POST };
  return undefined;
}

/** The restricted-API category of a route (Triton's, plus Osprey's `traffic`). */
export function routeCategory(route: Route): RestrictedCategory {
  switch (route.kind) {
    case 'health-live': case 'health-ready': case 'model-ready': return 'health';
    case 'server-metadata': case 'model-metadata': return 'metadata';
    case 'model-infer': return 'inference';
    case 'model-config': return 'model-config';
    case 'model-stats': case 'all-stats': return 'statistics';
    case 'repo-index': case 'repo-load': case 'repo-unload': return 'model-repository';
    case 'logging': return 'logging';
    case 'shared-memory': return 'shared-memory';
    case 'model-traffic': return 'traffic';
  }
}

/** Calls that change server state: loopback-only by default (src/frontends/access.ts). */
export function changesState(route: Route, method: string): boolean {
  switch (route.kind) {
    case 'repo-load': case 'repo-unload': return method === 'post';
    case 'model-traffic': return method === 'put' || method === 'post';
    case 'logging': case 'shared-memory': return method === 'post';
    default: return false;
  }
}

const VERSION = /^\d+$/;

/** `{v}` must be decimal digits; '' (no /versions/ segment) means the policy's version. */
export function checkVersion(version: string): void {
  checkModelVersion(version, 'http');
}
