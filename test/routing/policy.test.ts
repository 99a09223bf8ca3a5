/**
 * Policy validation: every field's error message is exact (they reach operators
 * through the admin endpoint and the log), a policy that names a version that is
 * not loaded is rejected and the model keeps its previous policy, and a validated
 * policy is frozen.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgument } from '../../src/errors/errors.js';
import { parsePolicyText, policyJson, validatePolicy } from '../../src/routing/policy.js';
import { TrafficRouter } from '../../src/routing/router.js';
import { strategyNames } from '../../src/routing/strategy.js';
import { FakeRegistry, captureLogger } from './fakes.js';

const ctx = { model: 'm', loaded: new Set([1, 2, 3]), strategies: strategyNames() };
const P = "invalid traffic policy for model 'm': ";

function rejects(value: unknown, message: string): void {
  assert.throws(() => validatePolicy(value, ctx), (err: unknown) => {
    assert.ok(err instanceof InvalidArgument, 'InvalidArgument (HTTP 400, gRPC INVALID_ARGUMENT)');
    assert.equal((err as Error).message, P + message);
    return true;
  });
}

const R = [{ version: 1, weight: 95 }, { version: 2, weight: 5 }];

describe('traffic policy validation', () => {
  it('names the bad field, exactly', () => {
    rejects([], 'must be a JSON object, got an array');
    rejects({ rutes: [] }, "has unknown field 'rutes' (known: routes, baseline, sticky, shadows, guardrails, promotion, strategy)");
    rejects({ routes: {} }, 'routes must be an array, got an object');
    rejects({ routes: [{ version: 1 }] }, 'routes[0].weight is required');
    rejects({ routes: [{ weight: 1 }] }, 'routes[0].version is required');
    rejects({ routes: [{ version: 1, weight: -1 }] }, 'routes[0].weight must be a finite number >= 0, got number -1');
    rejects({ routes: [{ version: 1, weight: '5' }] }, 'routes[0].weight must be a finite number >= 0, got string "5"');
    rejects({ routes: [{ version: 1.5, weight: 1 }] }, 'routes[0].version must be a positive integer, got number 1.5');
    rejects({ routes: [{ version: 1, weight: 1, extra: true }] }, "routes[0] has unknown field 'extra' (known: version, weight)");
    rejects({ routes: [{ version: 1, weight: 1 }, { version: 1, weight: 2 }] }, 'routes[1].version repeats version 1; each version may appear once');
    rejects({ routes: [{ version: 1, weight: 0 }, { version: 2, weight: 0 }] }, 'routes must give at least one route a weight > 0');
    rejects({ routes: R, baseline: 3 }, 'baseline names version 3, which is not one of the routes');
    rejects({ routes: R, sticky: { parameter: 'a', header: 'b' } }, "sticky must name exactly one of 'parameter' or 'header'");
    rejects({ routes: R, sticky: { header: 'bad header' } }, 'sticky.header must be a valid header name, got "bad header"');
    rejects({ routes: R, sticky: { parameter: '' } }, 'sticky.parameter must be a non-empty string, got string ""');
    rejects({ sticky: { parameter: 'u' } }, 'sticky needs routes to choose between');
    rejects({ shadows: [{ version: 3, fraction: 0 }] }, 'shadows[0].fraction must be a number in (0, 1], got number 0');
    rejects({ shadows: [{ version: 3, fraction: 1.5 }] }, 'shadows[0].fraction must be a number in (0, 1], got number 1.5');
    rejects({ routes: R, guardrails: { window_s: 0 } }, 'guardrails.window_s must be a number of seconds in [0.1, 86400], got number 0');
    rejects({ routes: R, guardrails: { min_samples: 2.5 } }, 'guardrails.min_samples must be an integer >= 1, got number 2.5');
    rejects({ routes: R, guardrails: { max_error_rate_delta: 2 } }, 'guardrails.max_error_rate_delta must be a number in [0, 1], got number 2');
    rejects({ routes: R, guardrails: { max_p99_ratio: 0.5 } }, 'guardrails.max_p99_ratio must be a number >= 1, got number 0.5');
    rejects({ routes: R, guardrails: { window: 30 } }, "guardrails has unknown field 'window' (known: window_s, min_samples, max_error_rate_delta, max_p99_ratio)");
    rejects({ routes: [R[0]], guardrails: {} }, 'guardrails need at least two routes (a baseline and a canary)');
    rejects({ routes: R, promotion: { steps: [5, 25] } }, 'promotion needs guardrails (a step is taken after healthy guardrail windows)');
    rejects({ routes: R, guardrails: {}, promotion: { steps: [25, 5] } }, 'promotion.steps[1] must be greater than the step before it (25)');
    rejects({ routes: R, guardrails: {}, promotion: { steps: [] } }, 'promotion.steps must be a non-empty array, got an array');
    rejects({ routes: R, guardrails: {}, promotion: { steps: [150] } }, 'promotion.steps[0] must be a percentage in (0, 100], got number 150');
    rejects({ routes: R, strategy: 'random' }, "strategy must be one of 'weighted', 'sticky', 'shadow', got string \"random\"");
    rejects({ routes: R, strategy: 'sticky' }, "strategy 'sticky' needs the sticky field");
    rejects({ routes: R, strategy: 'weighted', shadows: [{ version: 3 }] }, "strategy 'weighted' does not send shadows; use 'shadow' or leave strategy out");
    assert.throws(() => parsePolicyText('{"routes": [', ctx), /^InvalidArgument: invalid traffic policy for model 'm': is not valid JSON: /);
  });

  it('rejects a version that is not loaded, naming what is', () => {
    rejects({ routes: [{ version: 1, weight: 90 }, { version: 7, weight: 10 }] }, 'routes[1].version names version 7, which is not loaded (loaded: 1, 2, 3)');
    rejects({ shadows: [{ version: 9 }] }, 'shadows[0].version names version 9, which is not loaded (loaded: 1, 2, 3)');
  });

  it('fills defaults, derives the strategy and the baseline, and freezes', () => {
    const p = validatePolicy({ routes: [{ version: 2, weight: 5 }, { version: 1, weight: 95 }], shadows: [{ version: 3 }], guardrails: { min_samples: 10 } }, ctx);
    assert.equal(p.strategy, 'shadow');
    assert.equal(p.baseline, 1, 'largest weight');
    assert.equal(p.shadows[0]!.fraction, 1);
    assert.deepEqual(p.guardrails, { window_s: 30, min_samples: 10, max_error_rate_delta: 0.05, max_p99_ratio: 2 });
    assert.ok(Object.isFrozen(p) && Object.isFrozen(p.routes) && Object.isFrozen(p.routes[0]) && Object.isFrozen(p.guardrails));
    assert.equal(validatePolicy({ routes: R, sticky: { header: 'X-User' } }, ctx).sticky!.name, 'x-user');
    assert.equal(validatePolicy({ routes: R, sticky: { parameter: 'u' } }, ctx).strategy, 'sticky');
    assert.equal(validatePolicy({ routes: R }, ctx).strategy, 'weighted');
    // The canonical form round-trips.
    assert.deepEqual(validatePolicy(policyJson(p), ctx), p);
  });

  it('an invalid policy leaves the previous one in force, and is in the history', () => {
    const r = new TrafficRouter({ registry: new FakeRegistry({ m: [1, 2] }), logger: captureLogger().logger, seed: 1, timers: false });
    r.setPolicy('m', { routes: R });
    assert.throws(() => r.setPolicy('m', { routes: [{ version: 1, weight: 50 }, { version: 3, weight: 50 }] }),
      { message: P + 'routes[1].version names version 3, which is not loaded (loaded: 1, 2)' });
    const st = r.state('m');
    assert.deepEqual(st.policy, { strategy: 'weighted', routes: R, baseline: 1 });
    assert.deepEqual(st.history.map((h) => h.event), ['policy_set', 'policy_rejected']);
    assert.equal(st.history[1]!.reason, P + 'routes[1].version names version 3, which is not loaded (loaded: 1, 2)');
    assert.throws(() => r.setPolicy('nope', { routes: R }), { message: "Request for unknown model: 'nope' is not found" });
    assert.throws(() => r.state('nope'), { message: "Request for unknown model: 'nope' is not found" });
  });

  it('{} clears the policy: the registry default serves', () => {
    const r = new TrafficRouter({ registry: new FakeRegistry({ m: [1, 2] }), logger: captureLogger().logger, seed: 1, timers: false });
    r.setPolicy('m', { routes: R });
    r.setPolicy('m', '{}');
    assert.equal(r.resolve('m', '', { parameters: {} }).primary, undefined);
    assert.equal(r.state('m').policy, null);
  });
});
