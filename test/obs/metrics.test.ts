/**
 * GET /metrics on a real server after known HTTP traffic: exact Triton counter
 * values, histogram counts, label sets, agreement with GET .../stats, error logs,
 * and series that disappear when a version unloads.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FIXTURE_REPO, type TestServer, startTestServer } from '../helpers/server.js';
import { type Scrape, scrape } from './prom.js';

const SIMPLE = { model: 'simple', version: '1' };

function simpleBody(id: string, bogus = false): string {
  const row = Array.from({ length: 16 }, (_, i) => i);
  return JSON.stringify({
    id,
    inputs: [
      { name: bogus ? 'BOGUS' : 'INPUT0', datatype: 'INT32', shape: [1, 16], data: row },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: row },
    ],
  });
}

async function post(base: string, path: string, body: string): Promise<Response> {
  return fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
}

describe('metrics endpoint, end to end', () => {
  let s: TestServer;
  let m: Scrape;
  let stats: any;

  before(async () => {
    s = await startTestServer({ modelControlMode: 'explicit', loadModels: ['simple'] });
    for (let i = 0; i < 5; i++) {
      const r = await post(s.httpUrl, '/v2/models/simple/infer', simpleBody(`ok-${i}`));
      assert.equal(r.status, 200, await r.text());
      await r.arrayBuffer().catch(() => undefined);
    }
    for (let i = 0; i < 2; i++) {
      const r = await post(s.httpUrl, '/v2/models/simple/infer', simpleBody(`bad-${i}`, true));
      assert.equal(r.status, 400);
      await r.text();
    }
    m = await scrape(s.metricsUrl);
    stats = await (await fetch(`${s.httpUrl}/v2/models/simple/stats`)).json();
  });
  after(() => s.shutdown());

  it('counts successes, inferences and failures by reason exactly', () => {
    assert.equal(m.value('nv_inference_request_success', SIMPLE), 5);
    assert.equal(m.value('nv_inference_count', SIMPLE), 5);
    assert.equal(m.value('nv_inference_request_failure', { ...SIMPLE, reason: 'OTHER' }), 2);
    for (const reason of ['REJECTED', 'CANCELED', 'BACKEND']) {
      assert.equal(m.value('nv_inference_request_failure', { ...SIMPLE, reason }), 0, reason);
    }
    // Requests arrive one at a time: no warmup, one execution each.
    assert.equal(m.value('nv_inference_exec_count', SIMPLE), 5);
  });

  it('agrees with the statistics extension', () => {
    const st = stats.model_stats.find((x: any) => x.name === 'simple' && x.version === '1');
    const is = st.inference_stats;
    assert.equal(m.value('nv_inference_request_success', SIMPLE), is.success.count);
    assert.equal(m.value('nv_inference_count', SIMPLE), st.inference_count);
    assert.equal(m.value('nv_inference_exec_count', SIMPLE), st.execution_count);
    const failures = m.find('nv_inference_request_failure', SIMPLE).reduce((n, x) => n + x.value, 0);
    assert.equal(failures, is.fail.count);
    // Statistics were read after the scrape and nothing ran in between.
    assert.equal(m.value('nv_inference_request_duration_us', SIMPLE), Math.floor(is.success.ns / 1000));
    assert.equal(m.value('nv_inference_queue_duration_us', SIMPLE), Math.floor(is.queue.ns / 1000));
    assert.equal(m.value('nv_inference_compute_input_duration_us', SIMPLE), Math.floor(is.compute_input.ns / 1000));
    assert.equal(m.value('nv_inference_compute_infer_duration_us', SIMPLE), Math.floor(is.compute_infer.ns / 1000));
    assert.equal(m.value('nv_inference_compute_output_duration_us', SIMPLE), Math.floor(is.compute_output.ns / 1000));
    assert.equal(m.value('nv_cache_num_hits_per_model', SIMPLE), is.cache_hit.count);
    assert.equal(m.value('nv_cache_num_misses_per_model', SIMPLE), is.cache_miss.count);
  });

  it('uses Triton types and label sets', () => {
    for (const name of ['nv_inference_request_success', 'nv_inference_request_failure', 'nv_inference_count', 'nv_inference_exec_count',
      'nv_inference_request_duration_us', 'nv_inference_queue_duration_us', 'nv_inference_compute_input_duration_us',
      'nv_inference_compute_infer_duration_us', 'nv_inference_compute_output_duration_us',
      'nv_cache_num_hits_per_model', 'nv_cache_num_misses_per_model']) {
      assert.equal(m.types.get(name), 'counter', name);
      for (const x of m.find(name)) {
        assert.deepEqual(Object.keys(x.labels).sort(), name === 'nv_inference_request_failure' ? ['model', 'reason', 'version'] : ['model', 'version'], name);
      }
    }
    for (const name of ['nv_inference_pending_request_count', 'nv_model_load_duration_secs', 'nv_cpu_utilization', 'nv_cpu_memory_total_bytes', 'nv_cpu_memory_used_bytes']) {
      assert.equal(m.types.get(name), 'gauge', name);
    }
    assert.deepEqual(m.find('nv_inference_count').map((x) => x.labels), [SIMPLE]);
    assert.deepEqual(m.find('nv_inference_request_failure').map((x) => x.labels.reason).sort(), ['BACKEND', 'CANCELED', 'OTHER', 'REJECTED']);
    assert.equal(m.value('nv_inference_pending_request_count', SIMPLE), 0);
    assert.ok(m.value('nv_model_load_duration_secs', SIMPLE) > 0);
    const util = m.value('nv_cpu_utilization', {});
    assert.ok(util >= 0 && util <= 1, String(util));
    assert.ok(m.value('nv_cpu_memory_total_bytes', {}) > 0);
    assert.ok(m.value('nv_cpu_memory_used_bytes', {}) > 0);
    assert.ok(m.find('process_cpu_user_seconds_total').length === 1);
    assert.ok(m.find('process_resident_memory_bytes').length === 1);
  });

  it('has histograms with sub-millisecond buckets and exact counts', () => {
    for (const name of ['osprey_request_duration_seconds', 'osprey_queue_duration_seconds', 'osprey_compute_duration_seconds']) {
      assert.equal(m.types.get(name), 'histogram');
      assert.equal(m.value(`${name}_count`, SIMPLE), 5, name);
      assert.equal(m.value(`${name}_bucket`, { ...SIMPLE, le: '+Inf' }), 5, name);
      const buckets = m.find(`${name}_bucket`, SIMPLE);
      assert.equal(buckets[0]!.labels.le, '0.00005');
      for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${name} buckets are cumulative`);
    }
    const sum = m.value('osprey_request_duration_seconds_sum', SIMPLE);
    const us = m.value('nv_inference_request_duration_us', SIMPLE);
    assert.ok(Math.abs(sum * 1e6 - us) <= 1, `${sum} s vs ${us} us`);
    // Batch sizes: one row per execution; buckets 1, 2, 4, 8 (max_batch_size 8).
    assert.deepEqual(m.find('osprey_batch_size_bucket', SIMPLE).map((x) => [x.labels.le, x.value]), [['1', 5], ['2', 5], ['4', 5], ['8', 5], ['+Inf', 5]]);
    assert.equal(m.value('osprey_batch_size_count', SIMPLE), 5);
    assert.equal(m.value('osprey_batch_size_sum', SIMPLE), 5);
  });

  it('reports queue depth, in-flight batches, worker busy time and model state', () => {
    assert.equal(m.value('osprey_queue_depth', SIMPLE), 0);
    assert.equal(m.value('osprey_inflight_batches', SIMPLE), 0);
    const busy = m.value('osprey_worker_busy_seconds_total', SIMPLE);
    const st = stats.model_stats[0].batch_stats as any[];
    const ns = st.reduce((n, b) => n + b.compute_input.ns + b.compute_infer.ns + b.compute_output.ns, 0);
    assert.ok(Math.abs(busy - ns / 1e9) < 1e-9, `${busy} vs ${ns / 1e9}`);
    assert.equal(m.value('osprey_model_state', { ...SIMPLE, state: 'READY' }), 1);
  });

  it('exports drift gauges for simple (INT32 inputs and outputs)', () => {
    assert.deepEqual(new Set(m.find('osprey_drift_count', SIMPLE).map((x) => x.labels.tensor)), new Set(['INPUT0', 'INPUT1', 'OUTPUT0', 'OUTPUT1']));
    // 16 elements per row, all tracked (the default cap is 16); the window holds 5 rows.
    assert.equal(m.find('osprey_drift_count', { ...SIMPLE, tensor: 'INPUT0' }).length, 16);
    assert.equal(m.value('osprey_drift_count', { ...SIMPLE, tensor: 'INPUT0', feature: '3' }), 5);
    assert.equal(m.value('osprey_drift_mean', { ...SIMPLE, tensor: 'OUTPUT0', feature: '3' }), 6);
    assert.equal(m.value('osprey_drift_std', { ...SIMPLE, tensor: 'OUTPUT1', feature: '3' }), 0);
    assert.equal(m.value('osprey_drift_nan_count', { ...SIMPLE, tensor: 'INPUT1', feature: '0' }), 0);
    // No reference yet: the first window (1024 rows) has not filled.
    assert.equal(m.find('osprey_drift_psi').length, 0);
  });

  it('logs each failed request with model, version, id and reason', () => {
    const lines = s.logs.filter((l) => l.msg === 'inference request failed');
    assert.equal(lines.length, 2);
    for (let i = 0; i < 2; i++) {
      const l = lines[i]!;
      assert.equal(l.model, 'simple');
      assert.equal(l.version, 1);
      assert.equal(l.id, `bad-${i}`);
      assert.equal(l.reason, 'OTHER');
      assert.equal(l.code, 'INVALID_ARG');
      assert.match(String(l.error), /unexpected inference input 'BOGUS'/);
    }
    // Request logging is off by default.
    assert.equal(s.logs.filter((l) => l.msg === 'inference request').length, 0);
  });

  it('answers GET /metrics only', async () => {
    const ok = await fetch(`${s.metricsUrl}/metrics`);
    assert.equal(ok.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    await ok.text();
    const nf = await fetch(`${s.metricsUrl}/other`);
    assert.equal(nf.status, 404);
    await nf.text();
    const na = await fetch(`${s.metricsUrl}/metrics`, { method: 'POST', body: '' });
    assert.equal(na.status, 405);
    await na.text();
  });
});

describe('series follow the version lifecycle', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ modelRepositories: [FIXTURE_REPO], modelControlMode: 'explicit', loadModels: [] });
  });
  after(() => s.shutdown());

  it('binds series when a version loads and removes them when it unloads', async () => {
    let m = await scrape(s.metricsUrl);
    assert.equal(m.find('nv_inference_count', { model: 'scaler' }).length, 0);

    let r = await post(s.httpUrl, '/v2/repository/models/scaler/load', '{}');
    assert.equal(r.status, 200, await r.text());
    const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], data: [1, 2, 3, 4, 5, 6, 7, 8] }] });
    r = await post(s.httpUrl, '/v2/models/scaler/infer', body);
    assert.equal(r.status, 200, await r.text());

    m = await scrape(s.metricsUrl);
    // version_policy latest 1: only version 2 serves.
    assert.deepEqual(m.find('nv_inference_count', { model: 'scaler' }).map((x) => x.labels), [{ model: 'scaler', version: '2' }]);
    assert.equal(m.value('nv_inference_count', { model: 'scaler', version: '2' }), 2);
    assert.equal(m.value('osprey_batch_size_count', { model: 'scaler', version: '2' }), 1);
    assert.equal(m.value('osprey_drift_mean', { model: 'scaler', version: '2', tensor: 'y', feature: '0' }), 6);
    assert.equal(m.value('osprey_model_state', { model: 'scaler', version: '2', state: 'READY' }), 1);

    r = await post(s.httpUrl, '/v2/repository/models/scaler/unload', '{}');
    assert.equal(r.status, 200, await r.text());
    m = await scrape(s.metricsUrl);
    const left = m.samples.filter((x) => x.labels.model === 'scaler' && x.labels.version !== '');
    assert.deepEqual(left, [], 'no per-version series remain after unload');
    assert.equal(m.find('osprey_model_state', { model: 'scaler', state: 'UNAVAILABLE' }).length, 1);
    assert.ok(s.logs.some((l) => l.msg === 'model version unloaded' && l.model === 'scaler' && l.version === 2));
  });
});

describe('--allow-metrics false', () => {
  it('starts no metrics server', async () => {
    const s = await startTestServer({ allowMetrics: false, modelControlMode: 'explicit', loadModels: [] });
    try {
      assert.equal(s.metricsPort, -1);
      assert.equal(s.metricsUrl, '');
    } finally {
      await s.shutdown();
    }
  });
});
