/**
 * The routing-policy conformance suite: every registered strategy goes through the
 * same cases (as hono runs one suite against all of its routers). A strategy
 * registered without a fixture here fails the suite, so a new one cannot skip it.
 *
 * Statistical tolerance. Over n independent requests a route with share p gets
 * X ~ Binomial(n, p) of them: mean n*p, standard deviation sigma = sqrt(n p (1-p)).
 * For n = 20,000 and p = 0.05: n*p = 1000, sigma = sqrt(20000 * 0.05 * 0.95) =
 * sqrt(950) ~= 30.8. We accept |X - 1000| <= 5 sigma ~= 154 (4.23% .. 5.77%): a
 * correct splitter fails this with probability ~5.7e-7, while a splitter off by
 * one percentage point (4% or 6%) is caught with certainty. Keyed strategies hash
 * 20,000 distinct keys; the same bound holds if the hash spreads keys uniformly,
 * which is what the case checks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Resolution, type ShadowExecutor, TrafficRouter } from '../../src/routing/router.js';
import { type RoutingRequest, strategyNames } from '../../src/routing/strategy.js';
import type { InferenceRequest } from '../../src/types/inference.js';
import type { Tensor } from '../../src/types/tensor.js';
import { FakeRegistry, type FakeVersion, captureLogger, f32, request, settle } from './fakes.js';

const N = 20_000;
const P = 0.05;
const SIGMA = Math.sqrt(N * P * (1 - P));
const TOLERANCE = 5 * SIGMA;

interface Fixture {
  /** A policy that exercises the strategy: a 95/5 split between v1 and v2. */
  policy: Record<string, unknown>;
  /** The request for draw i (keyed strategies get distinct keys). */
  request(i: number): RoutingRequest;
}

const SPLIT = [{ version: 1, weight: 95 }, { version: 2, weight: 5 }];
const keyed = (i: number): RoutingRequest => ({ parameters: { user_id: `user-${i}` } });

/** One fixture per registered strategy (plus variants), keyed by strategy name. */
const FIXTURES: Record<string, Fixture[]> = {
  weighted: [{ policy: { strategy: 'weighted', routes: SPLIT }, request: keyed }],
  sticky: [
    { policy: { strategy: 'sticky', routes: SPLIT, sticky: { parameter: 'user_id' } }, request: keyed },
    {
      policy: { strategy: 'sticky', routes: SPLIT, sticky: { header: 'X-User-Id' } },
      request: (i) => ({ parameters: {}, headers: { 'x-user-id': `user-${i}` } }),
    },
  ],
  shadow: [
    { policy: { strategy: 'shadow', routes: SPLIT, shadows: [{ version: 3, fraction: 1 }] }, request: keyed },
    { policy: { strategy: 'shadow', routes: SPLIT, sticky: { parameter: 'user_id' }, shadows: [{ version: 3, fraction: 0.5 }] }, request: keyed },
  ],
};

function makeRouter(seed = 42, registry = new FakeRegistry({ m: [1, 2, 3] }), shadowExecutor?: ShadowExecutor<FakeVersion>): TrafficRouter<FakeVersion> {
  return new TrafficRouter({ registry, logger: captureLogger().logger, seed, timers: false, shadowExecutor });
}

/** The same policy with shadows added (strategy 'shadow'), for the "shadows change nothing" case. */
function withShadows(policy: Record<string, unknown>): Record<string, unknown> {
  return { ...policy, strategy: 'shadow', shadows: [{ version: 3, fraction: 0.3 }] };
}

describe('routing strategy conformance', () => {
  it('every registered strategy has a fixture', () => {
    for (const name of strategyNames()) assert.ok(FIXTURES[name]?.length, `strategy '${name}' has no conformance fixture`);
  });

  for (const name of strategyNames()) {
    for (const [k, fx] of (FIXTURES[name] ?? []).entries()) {
      describe(`${name} #${k + 1}: ${JSON.stringify(fx.policy)}`, () => {
        it(`sends a 5% canary 5% of ${N} requests, within 5 sigma (+-${TOLERANCE.toFixed(0)})`, () => {
          const r = makeRouter();
          r.setPolicy('m', fx.policy);
          let canary = 0;
          for (let i = 0; i < N; i++) {
            const res = r.resolve('m', '', fx.request(i));
            assert.ok(res.primary === 1 || res.primary === 2, `primary ${res.primary}`);
            if (res.primary === 2) canary++;
          }
          assert.ok(Math.abs(canary - N * P) <= TOLERANCE, `canary got ${canary} of ${N} (expected ${N * P} +- ${TOLERANCE.toFixed(1)})`);
        });

        it('a key always gets the same version (keyed strategies); others ignore keys', () => {
          const r = makeRouter(7);
          r.setPolicy('m', fx.policy);
          const strategy = r.strategyOf('m')!;
          assert.equal(strategy.name, name);
          assert.equal(strategy.keyed, fx.policy.sticky !== undefined, 'keyed exactly when the policy is sticky');
          if (strategy.keyed) {
            for (let i = 0; i < 2000; i++) {
              const first = r.resolve('m', '', fx.request(i)).primary;
              for (let rep = 0; rep < 5; rep++) assert.equal(r.resolve('m', '', fx.request(i)).primary, first, `key ${i}`);
            }
            // A fresh router (another process, a restart) puts every key on the same version.
            const r2 = makeRouter(99);
            r2.setPolicy('m', fx.policy);
            for (let i = 0; i < 2000; i++) assert.equal(r2.resolve('m', '', fx.request(i)).primary, r.resolve('m', '', fx.request(i)).primary);
          } else {
            // One repeated key still splits 95/5: the strategy is not sticky.
            let canary = 0;
            for (let i = 0; i < N; i++) if (r.resolve('m', '', fx.request(0)).primary === 2) canary++;
            assert.ok(Math.abs(canary - N * P) <= TOLERANCE, `canary got ${canary} of ${N} for one key`);
          }
        });

        it('a request that names a version bypasses the split', () => {
          const r = makeRouter();
          r.setPolicy('m', fx.policy);
          for (let i = 0; i < 200; i++) {
            const res = r.resolve('m', '1', fx.request(i));
            assert.equal(res.primary, undefined);
            assert.deepEqual(res.shadows, []);
          }
        });

        it('shadows never change the primary, and never name it', () => {
          const plain = makeRouter(1234);
          const shadowed = makeRouter(1234);
          plain.setPolicy('m', fx.policy);
          shadowed.setPolicy('m', withShadows(fx.policy));
          let withShadow = 0;
          for (let i = 0; i < N; i++) {
            const a = plain.resolve('m', '', fx.request(i));
            const b = shadowed.resolve('m', '', fx.request(i));
            assert.equal(b.primary, a.primary, `request ${i}`);
            assert.ok(!b.shadows.includes(b.primary!), 'a version never shadows itself');
            if (b.shadows.length > 0) withShadow++;
          }
          // fraction 0.3 of every request (v3 is never a primary here): 5 sigma again.
          const sd = Math.sqrt(N * 0.3 * 0.7);
          assert.ok(Math.abs(withShadow - N * 0.3) <= 5 * sd, `shadowed ${withShadow} of ${N}`);
        });

        it('shadows never change a response, even when they fail or answer differently', async () => {
          const registry = new FakeRegistry({ m: [1, 2, 3] });
          // The "model": version v answers x * v. Shadows answer garbage, or throw, or reject.
          let calls = 0;
          const r = makeRouter(5, registry, async (v: FakeVersion, req: InferenceRequest): Promise<Tensor[]> => {
            calls++;
            if (calls % 3 === 0) throw new Error('shadow exploded');
            if (calls % 3 === 1) return [f32('y', [1, 2], [NaN, -1e9])];
            // Mutating the shared input must not be possible to observe in the answer either:
            // the answer is built before the shadow starts.
            return [f32('y', req.inputs[0]!.shape, [v.version, v.version])];
          });
          r.setPolicy('m', withShadows(fx.policy));
          for (let i = 0; i < 300; i++) {
            const req = { ...(request(fx.request(i).parameters) as InferenceRequest), inputs: [f32('x', [1, 2], [i, -i])] };
            const res: Resolution = r.resolve('m', '', req);
            const served = registry.resolve('m', res.version);
            const answer = [f32('y', [1, 2], [i * served.version, -i * served.version])];
            const before = Buffer.from(answer[0]!.data).toString('hex');
            r.observe(res, served.version, undefined, 1);
            r.shadow(res, req, served, answer.slice());
            await settle();
            assert.equal(Buffer.from(answer[0]!.data).toString('hex'), before);
            assert.equal(answer[0]!.name, 'y');
          }
          assert.ok(calls > 50, `shadows ran (${calls})`);
          const st = r.state('m');
          const failed = st.shadows.reduce((n, s) => n + s.failed, 0);
          assert.ok(failed > 0, 'some shadows failed, and nothing threw');
        });
      });
    }
  }
});
