/**
 * Traffic routing: canary splits, sticky A/B assignment, shadows, comparison and
 * guardrails. The data plane calls `TrafficRouter`; the rest is its parts.
 */
export {
  NO_ROUTE, POLICY_FILE, TrafficRouter,
  type HistoryEntry, type PolicySource, type Resolution, type ServingVersion, type ShadowExecutor,
  type TrafficMetrics, type TrafficRouterOptions, type TrafficState, type VersionSource,
} from './router.js';
export { DEFAULT_GUARDRAILS, parsePolicyText, policyJson, validatePolicy, type TrafficPolicy } from './policy.js';
export {
  buildTable, createStrategy, registerStrategy, routeAt, strategyNames,
  type RouteTable, type RoutingRequest, type RoutingStrategy, type StrategyFactory,
} from './strategy.js';
export { keyPoint, Prng } from './hash.js';
export { PairComparison, type ComparisonSnapshot } from './compare.js';
export { SlidingWindow, type WindowSnapshot } from './window.js';
