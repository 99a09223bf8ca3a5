/**
 * Traffic routing end to end: a real server (HTTP + gRPC, worker threads, ONNX
 * Runtime) over a temporary repository holding copies of the fixture models and a
 * traffic.json. Checks: the split, sticky keys over HTTP headers, parameters and
 * gRPC metadata, explicit versions bypassing it, the admin endpoints (HTTP and
 * gRPC) with exact errors, shadow comparison metrics against what this test
 * computes itself, and automatic rollback of a failing and of a slow canary with
 * zero failures on the primary.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { TRAFFIC_ADMIN_SERVICE, loadPackageDefinition } from '../../src/frontends/grpc/proto.js';
import type { TrafficState } from '../../src/routing/router.js';
import { createGrpcClient, rawInferRequest, responseTensors, tensor } from '../helpers/grpc-client.js';
import { httpRequest, infer, replyJson } from '../helpers/http-client.js';
import { FIXTURE_REPO, type TestServer, startTestServer } from '../helpers/server.js';

const ROUTING_FIXTURES = fileURLToPath(new URL('../../../test/fixtures/routing/', import.meta.url));

/** A repository with scaler (v1: y = x, v2: y = 2x), guarded and lagged, every version served. */
async function makeRepo(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'osprey-routing-'));
  await cp(join(FIXTURE_REPO, 'scaler'), join(dir, 'scaler'), { recursive: true });
  const cfgPath = join(dir, 'scaler', 'config.pbtxt');
  const cfg = (await readFile(cfgPath, 'utf8')).replace(/version_policy:.*\n/, 'version_policy: { all: {} }\n');
  assert.match(cfg, /version_policy: \{ all: \{\} \}/);
  await writeFile(cfgPath, cfg);
  await cp(join(ROUTING_FIXTURES, 'guarded'), join(dir, 'guarded'), { recursive: true });
  await cp(join(ROUTING_FIXTURES, 'lagged'), join(dir, 'lagged'), { recursive: true });
  // Loaded from the file when the model loads.
  await writeFile(join(dir, 'scaler', 'traffic.json'), JSON.stringify({ routes: [{ version: 1, weight: 80 }, { version: 2, weight: 20 }] }));
  return dir;
}

interface Answer { status: number; version: string; y: number[]; error?: string }

async function inferScaler(s: TestServer, x: number[], o: { version?: string; parameters?: Record<string, unknown>; headers?: Record<string, string> } = {}): Promise<Answer> {
  const { reply, result } = await infer(s.httpUrl, 'scaler', {
    parameters: o.parameters,
    inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: x }],
  }, { version: o.version, headers: o.headers });
  if (result === undefined) return { status: reply.status, version: '', y: [], error: replyJson(reply).error };
  return { status: 200, version: result.json.model_version, y: result.json.outputs[0].data };
}

async function putPolicy(s: TestServer, model: string, policy: unknown, method = 'PUT') {
  const reply = await httpRequest(s.httpUrl, method, `/v2/models/${model}/traffic`, { body: JSON.stringify(policy), headers: { 'content-type': 'application/json' } });
  return { status: reply.status, json: replyJson(reply) };
}

async function getState(s: TestServer, model: string): Promise<TrafficState> {
  const reply = await httpRequest(s.httpUrl, 'GET', `/v2/models/${model}/traffic`);
  assert.equal(reply.status, 200);
  return replyJson(reply) as TrafficState;
}

async function waitFor<T>(what: string, fn: () => T | Promise<T>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** 5-sigma binomial bound (see conformance.test.ts). */
function withinBinomial(k: number, n: number, p: number): boolean {
  return Math.abs(k - n * p) <= 5 * Math.sqrt(n * p * (1 - p));
}

describe('traffic routing, end to end', () => {
  let repo: string;
  let s: TestServer;
  before(async () => {
    repo = await makeRepo();
    s = await startTestServer({ modelRepositories: [repo] });
  });
  after(async () => {
    await s.shutdown();
    await rm(repo, { recursive: true, force: true });
  });

  it('applies traffic.json at load; splits 80/20; every answer names its version; an explicit version bypasses the split', async () => {
    const st = await getState(s, 'scaler');
    assert.equal(st.source, 'file');
    assert.deepEqual(st.policy, { strategy: 'weighted', routes: [{ version: 1, weight: 80 }, { version: 2, weight: 20 }], baseline: 1 });
    const n = 400;
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const a = await inferScaler(s, [1, -2, 3.5, 0]);
      assert.equal(a.status, 200);
      counts[a.version] = (counts[a.version] ?? 0) + 1;
      const k = Number(a.version);
      assert.deepEqual(a.y, [k, -2 * k, 3.5 * k, 0], 'the answer is the version it names');
    }
    assert.ok(withinBinomial(counts['2'] ?? 0, n, 0.2), `v2 got ${counts['2']} of ${n}`);
    for (let i = 0; i < 50; i++) assert.equal((await inferScaler(s, [1, 1, 1, 1], { version: '2' })).version, '2');
    const after = await getState(s, 'scaler');
    assert.equal(after.routes[0]!.requests + after.routes[1]!.requests, n, 'explicit requests are not routed traffic');
    assert.deepEqual(after.routes.map((r) => r.role), ['baseline', 'canary']);
  });

  it('admin PUT/POST replaces the policy; an invalid one is a 400 naming the field and the old one stays', async () => {
    const ok = await putPolicy(s, 'scaler', { routes: [{ version: 1, weight: 1 }, { version: 2, weight: 3 }] });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.source, 'admin');
    assert.deepEqual(ok.json.routes.map((r: { share: number }) => r.share), [0.25, 0.75]);
    const bad = await putPolicy(s, 'scaler', { routes: [{ version: 1, weight: 50 }, { version: 3, weight: 50 }] }, 'POST');
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json, { error: "invalid traffic policy for model 'scaler': routes[1].version names version 3, which is not loaded (loaded: 1, 2)" });
    const notJson = await httpRequest(s.httpUrl, 'PUT', '/v2/models/scaler/traffic', { body: '{"routes":' });
    assert.equal(notJson.status, 400);
    assert.match(replyJson(notJson).error, /^invalid traffic policy for model 'scaler': is not valid JSON: /);
    const st = await getState(s, 'scaler');
    assert.deepEqual(st.policy!.routes, [{ version: 1, weight: 1 }, { version: 2, weight: 3 }]);
    assert.deepEqual(st.history.slice(-3).map((h) => h.event), ['policy_set', 'policy_rejected', 'policy_rejected']);
    const unknown = await httpRequest(s.httpUrl, 'GET', '/v2/models/nope/traffic');
    assert.equal(unknown.status, 400);
    assert.deepEqual(replyJson(unknown), { error: "Request for unknown model: 'nope' is not found" });
    const del = await httpRequest(s.httpUrl, 'DELETE', '/v2/models/scaler/traffic');
    assert.equal(del.status, 405);
    assert.equal(del.headers.allow, 'GET, PUT, POST');
    // The policy is per model: no versioned form.
    assert.equal((await httpRequest(s.httpUrl, 'GET', '/v2/models/scaler/versions/1/traffic')).status, 404);
  });

  it('sticky: a key (HTTP header, request parameter, gRPC metadata) always gets the same version', async () => {
    const split = [{ version: 1, weight: 50 }, { version: 2, weight: 50 }];
    assert.equal((await putPolicy(s, 'scaler', { routes: split, sticky: { header: 'X-User' } })).status, 200);
    const seen = new Set<string>();
    for (let k = 0; k < 20; k++) {
      const first = (await inferScaler(s, [1, 1, 1, 1], { headers: { 'x-user': `u${k}` } })).version;
      seen.add(first);
      for (let rep = 0; rep < 5; rep++) assert.equal((await inferScaler(s, [1, 1, 1, 1], { headers: { 'x-user': `u${k}` } })).version, first);
    }
    assert.deepEqual([...seen].sort(), ['1', '2'], 'keys spread over both versions');

    // gRPC metadata carries the same key to the same version.
    const client = createGrpcClient(s.grpcAddress);
    try {
      for (let k = 0; k < 10; k++) {
        const http = (await inferScaler(s, [1, 1, 1, 1], { headers: { 'x-user': `g${k}` } })).version;
        const md = new grpc.Metadata();
        md.set('x-user', `g${k}`);
        const res = await client.infer(rawInferRequest('scaler', [tensor('x', 'FP32', [1, 4], new Float32Array([1, 2, 3, 4]))]), { metadata: md });
        assert.equal(res.model_version, http);
        assert.deepEqual([...new Float32Array(new Uint8Array(responseTensors(res)[0]!.data).slice().buffer)], [1, 2, 3, 4].map((x) => x * Number(http)));
      }
    } finally {
      client.close();
    }

    assert.equal((await putPolicy(s, 'scaler', { routes: split, sticky: { parameter: 'user_id' } })).status, 200);
    for (let k = 0; k < 10; k++) {
      const first = (await inferScaler(s, [1, 1, 1, 1], { parameters: { user_id: `p${k}` } })).version;
      for (let rep = 0; rep < 3; rep++) assert.equal((await inferScaler(s, [1, 1, 1, 1], { parameters: { user_id: `p${k}` } })).version, first);
    }
  });

  it('gRPC TrafficAdmin gets and sets the policy, with the same errors', async () => {
    const root = grpc.loadPackageDefinition(loadPackageDefinition()) as any;
    let ctor: any = root;
    for (const part of TRAFFIC_ADMIN_SERVICE.split('.')) ctor = ctor[part];
    const admin = new ctor(s.grpcAddress, grpc.credentials.createInsecure());
    const call = (method: string, req: object) => new Promise<any>((resolve, reject) => {
      admin[method](req, (err: grpc.ServiceError | null, res: any) => (err ? reject(err) : resolve(res)));
    });
    try {
      const set = await call('SetTrafficPolicy', { model_name: 'scaler', policy_json: JSON.stringify({ routes: [{ version: 2, weight: 1 }] }) });
      assert.equal(set.model_name, 'scaler');
      assert.equal(JSON.parse(set.state_json).routes[0].version, 2);
      const got = JSON.parse((await call('GetTrafficPolicy', { model_name: 'scaler' })).state_json);
      assert.deepEqual(got.policy, { strategy: 'weighted', routes: [{ version: 2, weight: 1 }], baseline: 2 });
      await assert.rejects(call('SetTrafficPolicy', { model_name: 'scaler', policy_json: '{"routes":[{"version":1,"weight":-1}]}' }), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
        assert.equal(err.details, "invalid traffic policy for model 'scaler': routes[0].weight must be a finite number >= 0, got number -1");
        return true;
      });
      for (let i = 0; i < 5; i++) assert.equal((await inferScaler(s, [1, 1, 1, 1])).version, '2');
    } finally {
      admin.close();
    }
  });

  it('shadow comparison metrics match what the test computes (v1 primary, v2 shadow: |diff| = |x|); shadows change no answer', async () => {
    assert.equal((await putPolicy(s, 'scaler', { routes: [{ version: 1, weight: 1 }], shadows: [{ version: 2, fraction: 1 }] })).status, 200);
    const n = 60;
    let max = 0;
    let sum = 0;
    let seed = 7;
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    for (let i = 0; i < n; i++) {
      const x = [0, 1, 2, 3].map(() => Math.fround((rand() - 0.5) * 20) || 1);
      const before = (s.traffic.state('scaler').shadows[0]?.completed ?? 0) + (s.traffic.state('scaler').shadows[0]?.dropped.busy ?? 0);
      const a = await inferScaler(s, x);
      assert.equal(a.status, 200);
      assert.equal(a.version, '1');
      assert.deepEqual(a.y, x, 'the answer is the primary\'s (y = x), never the shadow\'s (2x)');
      // One request at a time, so no shadow is dropped as busy and every one is compared.
      await waitFor('the shadow to finish', () => {
        const p = s.traffic.state('scaler').shadows[0];
        return p !== undefined && p.completed + p.dropped.busy + p.failed > before;
      });
      for (const v of x) { max = Math.max(max, Math.abs(v)); sum += Math.abs(v); }
    }
    const st = (await getState(s, 'scaler')).shadows.find((p) => p.primary === 1 && p.shadow === 2)!;
    assert.equal(st.failed, 0);
    assert.equal(st.dropped.busy, 0);
    assert.equal(st.compared, n);
    assert.equal(st.exact_matches, 0);
    assert.equal(st.exact_match_rate, 0);
    const y = st.outputs.find((o) => o.name === 'y')!;
    assert.equal(y.max_abs_diff, max);
    assert.ok(Math.abs(y.mean_abs_diff - sum / (4 * n)) < 1e-9 * (sum / (4 * n)), `mean ${y.mean_abs_diff} vs ${sum / (4 * n)}`);
    // [1, 4] FP32 counts as classifier-like; scaling by 2 keeps every argmax.
    assert.equal(st.top_class_rows, n);
    assert.equal(st.top_class_disagreement_rate, 0);
    // The metrics snapshot carries the same numbers with model/primary/shadow labels.
    const m = s.traffic.collect().shadows.find((x) => x.model === 'scaler' && x.primary === '1' && x.shadow === '2')!;
    assert.deepEqual([m.compared, m.exact_match_rate, m.outputs[0]!.max_abs_diff, m.outputs[0]!.mean_abs_diff], [n, 0, y.max_abs_diff, y.mean_abs_diff]);
    // Disagreements are logged, as a sample (at most one a second per pair).
    const logged = s.logs.filter((l) => l.msg === 'shadow disagreement' && l.model === 'scaler');
    assert.ok(logged.length >= 1 && logged.length < n, `${logged.length} disagreement lines`);
  });

  it('a canary that fails on inputs the primary handles is rolled back within the window, with zero primary failures', async () => {
    const windowS = 3;
    const set = await putPolicy(s, 'guarded', {
      routes: [{ version: 1, weight: 70 }, { version: 2, weight: 30 }],
      guardrails: { window_s: windowS, min_samples: 15, max_error_rate_delta: 0.05 },
    });
    assert.equal(set.status, 200);
    const started = Date.now();
    const results: Answer[] = [];
    const one = async () => {
      // idx 10: v1 clamps it, v2 (the canary) fails at run time.
      const { reply, result } = await infer(s.httpUrl, 'guarded', {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], data: [0.5] }, { name: 'idx', datatype: 'INT64', shape: [1, 1], data: [10] }],
      });
      results.push(result === undefined
        ? { status: reply.status, version: '', y: [], error: replyJson(reply).error }
        : { status: 200, version: result.json.model_version, y: result.json.outputs[0].data });
    };
    let rolledBackAt = 0;
    while (Date.now() - started < 20_000) {
      await Promise.all([one(), one(), one(), one()]);
      const st = s.traffic.state('guarded');
      if (st.routes[1]!.weight === 0) { rolledBackAt = Date.now(); break; }
    }
    assert.ok(rolledBackAt > 0, 'rolled back');
    const st = await getState(s, 'guarded');
    const rb = st.history.find((h) => h.event === 'rollback')!;
    assert.equal(rb.version, 2);
    assert.match(rb.reason, /error rate 1 exceeds the baseline's 0 by more than 0\.05/);
    // First canary failure -> rollback: within the window.
    assert.ok(rolledBackAt - started < windowS * 1000, `rolled back after ${rolledBackAt - started} ms`);
    assert.equal(st.rollbacks, 1);
    assert.ok(s.logs.some((l) => l.msg === 'canary rolled back' && l.model === 'guarded'));
    // After: every request goes to v1 and succeeds.
    const before = results.length;
    for (let i = 0; i < 40; i++) await one();
    const afterRollback = results.slice(before);
    assert.ok(afterRollback.every((r) => r.status === 200 && r.version === '1'));
    // Zero failed requests for traffic routed to the primary: every success is v1
    // with table[clamp(10)] + 0.5 = 40.5, every failure is the canary's out-of-range error,
    // and the router counted no error on route 1.
    for (const r of results) {
      if (r.status === 200) assert.deepEqual([r.version, r.y], ['1', [40.5]]);
      else assert.match(r.error!, /indices element out of data bounds, idx=10 must be within the inclusive range \[-4,3\]/);
    }
    const final = await getState(s, 'guarded');
    assert.equal(final.routes[0]!.errors, 0);
    assert.equal(final.routes[0]!.requests, results.filter((r) => r.status === 200).length);
    assert.equal(final.routes[1]!.errors, results.filter((r) => r.status !== 200).length);
    const metrics = s.traffic.collect().routes.filter((r) => r.model === 'guarded');
    assert.deepEqual(metrics.map((r) => [r.route, r.errors, r.rollbacks]), [['1', 0, 0], ['2', final.routes[1]!.errors, 1]]);
  });

  it('exports route and shadow metrics with model/route and model/primary/shadow labels', async () => {
    assert.notEqual(s.metricsUrl, '', 'metrics are on');
    const text = await (await fetch(`${s.metricsUrl}/metrics`)).text();
    const value = (series: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      assert.ok(line !== undefined, `no series ${series}`);
      return Number(line.split(' ')[1]);
    };
    const st = s.traffic.state('guarded');
    assert.equal(value('osprey_route_errors_total{model="guarded",route="1"}'), 0);
    assert.equal(value('osprey_route_errors_total{model="guarded",route="2"}'), st.routes[1]!.errors);
    assert.equal(value('osprey_route_rollbacks_total{model="guarded",route="2"}'), 1);
    assert.equal(value('osprey_route_share{model="guarded",route="1"}'), 1);
    const pair = s.traffic.state('scaler').shadows.find((p) => p.primary === 1 && p.shadow === 2)!;
    assert.equal(value('osprey_shadow_compared_total{model="scaler",primary="1",shadow="2"}'), pair.compared);
    assert.equal(value('osprey_shadow_exact_match_ratio{model="scaler",primary="1",shadow="2"}'), 0);
    assert.equal(value('osprey_shadow_max_abs_diff{model="scaler",primary="1",shadow="2",output="y"}'), pair.outputs[0]!.max_abs_diff);
  });

  it('a slow canary is rolled back on p99, and nothing fails', async () => {
    assert.equal((await putPolicy(s, 'lagged', {
      routes: [{ version: 1, weight: 50 }, { version: 2, weight: 50 }],
      guardrails: { window_s: 10, min_samples: 10, max_p99_ratio: 3 },
    })).status, 200);
    const started = Date.now();
    let failures = 0;
    const errors = new Set<string>();
    while (Date.now() - started < 20_000 && s.traffic.state('lagged').routes[1]!.weight !== 0) {
      const { reply } = await infer(s.httpUrl, 'lagged', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [2] }] });
      if (reply.status !== 200) { failures++; errors.add(`${reply.status} ${reply.body.toString()}`); }
    }
    assert.equal(failures, 0, [...errors].join('; '));
    const st = await getState(s, 'lagged');
    assert.equal(st.routes[1]!.weight, 0, `not rolled back; windows: ${JSON.stringify(st.routes.map((r) => r.window))}`);
    assert.match(st.history.find((h) => h.event === 'rollback')!.reason, /p99 latency [\d.]+ ms is more than 3x the baseline's [\d.]+ ms/);
  });
});
