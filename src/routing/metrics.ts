/**
 * Traffic-routing metrics in the server's prom-client registry, read at scrape
 * time from `TrafficRouter.collect()` (the same numbers the admin endpoint shows),
 * so the request path records nothing for them beyond the router's own counters.
 *
 * Per route (labels model, route = the version number): requests, errors and
 * rollbacks (counters), current traffic share, window error rate and window p99.
 * Per shadow pair (labels model, primary, shadow): shadows submitted, dropped,
 * failed and compared (counters), exact-match and top-class-disagreement ratios;
 * per output (plus label output): max and mean absolute difference. Per model:
 * promotions.
 */
import type { Registry } from 'prom-client';
import { type Emit, type MetricType, ScrapedFamily } from '../obs/families.js';
import type { TrafficMetrics, TrafficRouter } from './router.js';

type Route = TrafficMetrics['routes'][number];
type Shadow = TrafficMetrics['shadows'][number];

export function registerTrafficMetrics(registry: Registry, traffic: Pick<TrafficRouter, 'collect'>): void {
  // One collect() per scrape, shared by every family below (they are read in turn).
  let cached: TrafficMetrics | undefined;
  let at = -Infinity;
  const snap = (): TrafficMetrics => {
    const now = performance.now();
    if (cached === undefined || now - at > 100) {
      cached = traffic.collect();
      at = now;
    }
    return cached;
  };
  const route = (name: string, help: string, type: MetricType, read: (r: Route) => number): void => {
    new ScrapedFamily(name, help, type, (emit: Emit) => {
      for (const r of snap().routes) emit({ model: r.model, route: r.route }, read(r));
    }).register(registry);
  };
  const pair = (name: string, help: string, type: MetricType, read: (s: Shadow) => number): void => {
    new ScrapedFamily(name, help, type, (emit: Emit) => {
      for (const s of snap().shadows) emit({ model: s.model, primary: s.primary, shadow: s.shadow }, read(s));
    }).register(registry);
  };
  const output = (name: string, help: string, read: (o: Shadow['outputs'][number]) => number): void => {
    new ScrapedFamily(name, help, 'gauge', (emit: Emit) => {
      for (const s of snap().shadows) for (const o of s.outputs) emit({ model: s.model, primary: s.primary, shadow: s.shadow, output: o.output }, read(o));
    }).register(registry);
  };

  route('osprey_route_requests_total', 'Requests a traffic policy routed to this version (requests naming a version are not routed)', 'counter', (r) => r.requests);
  route('osprey_route_errors_total', 'Routed requests that failed (client cancellations excluded)', 'counter', (r) => r.errors);
  route('osprey_route_rollbacks_total', 'Times the guardrails set this route\'s weight to zero', 'counter', (r) => r.rollbacks);
  route('osprey_route_share', 'Current share of the model\'s routed traffic for this version [0.0 - 1.0]', 'gauge', (r) => r.share);
  route('osprey_route_window_error_rate', 'Error rate of this route over the guardrail window', 'gauge', (r) => r.window_error_rate);
  route('osprey_route_window_p99_seconds', 'p99 latency of successful requests on this route over the guardrail window, in seconds', 'gauge', (r) => r.window_p99_ms / 1000);
  pair('osprey_shadow_submitted_total', 'Shadow copies run on the shadow version', 'counter', (s) => s.submitted);
  pair('osprey_shadow_dropped_total', 'Shadow copies dropped instead of queued (server busy, shadow version not loaded, stopping)', 'counter', (s) => s.dropped);
  pair('osprey_shadow_failed_total', 'Shadow copies that failed (the primary\'s answer was unaffected)', 'counter', (s) => s.failed);
  pair('osprey_shadow_compared_total', 'Shadow answers compared with the primary\'s', 'counter', (s) => s.compared);
  pair('osprey_shadow_exact_match_ratio', 'Share of compared shadow answers identical to the primary\'s in every output', 'gauge', (s) => s.exact_match_rate);
  pair('osprey_shadow_top_class_disagreement_ratio', 'Share of rows of classifier-like outputs whose top class differs between shadow and primary', 'gauge', (s) => s.top_class_disagreement_rate);
  output('osprey_shadow_max_abs_diff', 'Largest absolute difference between shadow and primary output elements', (o) => o.max_abs_diff);
  output('osprey_shadow_mean_abs_diff', 'Mean absolute difference between shadow and primary output elements', (o) => o.mean_abs_diff);
  new ScrapedFamily('osprey_traffic_promotions_total', 'Promotion steps taken by a model\'s canary', 'counter', (emit: Emit) => {
    for (const m of snap().models) emit({ model: m.model }, m.promotions);
  }).register(registry);
}
