/**
 * OspreyMetrics without a server: binding and unbinding (including a reload of the
 * same version), the sink, histogram buckets, and the drift reference file found next
 * to the model.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { ModelConfig } from '../../src/config/model-config.js';
import { Hist, batchBuckets } from '../../src/obs/families.js';
import { OspreyMetrics } from '../../src/obs/metrics.js';
import type { ModelVersion } from '../../src/registry/model-version.js';
import { VersionStats } from '../../src/registry/stats.js';
import { parseProm } from './prom.js';

function fakeVersion(dir: string, name = 'm', version = 1, parameters: Record<string, string> = {}): ModelVersion {
  const config = {
    name, max_batch_size: 8,
    input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [2] }],
    output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [1] }],
    parameters: Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, { string_value: v }])),
  } as unknown as ModelConfig;
  return {
    name, version, versionString: String(version), config, stats: new VersionStats(),
    spec: { path: join(dir, name, String(version), 'model.onnx') }, batcher: { queued: 3, inFlight: 1 }, loadSeconds: 0.5,
  } as unknown as ModelVersion;
}

async function text(m: OspreyMetrics) {
  return parseProm(await m.metrics());
}

describe('OspreyMetrics', () => {
  it('binds a series as the stats sink and drops it on unbind', async () => {
    const m = new OspreyMetrics({ defaultMetrics: false });
    const v = fakeVersion('/nonexistent');
    const s = m.bind(v);
    assert.equal(v.stats.sink, s);
    v.stats.recordExecution(3, 1000, 2_000_000, 1000);
    v.stats.recordSuccess(3, 3_000_000, 40_000, 1000, 2_000_000, 1000);
    v.stats.recordFailure(10, 'REJECTED');
    v.stats.recordFailure(10, 'BACKEND');
    v.stats.recordFailure(10, 'BACKEND');
    let p = await text(m);
    const L = { model: 'm', version: '1' };
    assert.equal(p.value('nv_inference_count', L), 3);
    assert.equal(p.value('nv_inference_request_duration_us', L), 3000);
    assert.equal(p.value('nv_inference_queue_duration_us', L), 40);
    assert.equal(p.value('nv_inference_request_failure', { ...L, reason: 'REJECTED' }), 1);
    assert.equal(p.value('nv_inference_request_failure', { ...L, reason: 'BACKEND' }), 2);
    assert.equal(p.value('nv_inference_pending_request_count', L), 3);
    assert.equal(p.value('osprey_queue_depth', L), 3);
    assert.equal(p.value('osprey_inflight_batches', L), 1);
    assert.equal(p.value('nv_model_load_duration_secs', L), 0.5);
    assert.equal(p.value('osprey_worker_busy_seconds_total', L), 0.002002);
    // 3 ms lands in the 5 ms bucket, not below.
    assert.equal(p.value('osprey_request_duration_seconds_bucket', { ...L, le: '0.0025' }), 0);
    assert.equal(p.value('osprey_request_duration_seconds_bucket', { ...L, le: '0.005' }), 1);
    assert.equal(p.value('osprey_queue_duration_seconds_bucket', { ...L, le: '0.00005' }), 1);
    assert.deepEqual(p.find('osprey_batch_size_bucket', L).map((x) => [x.labels.le, x.value]), [['1', 0], ['2', 0], ['4', 1], ['8', 1], ['+Inf', 1]]);
    m.unbind(v);
    p = await text(m);
    assert.equal(p.samples.filter((x) => x.labels.model === 'm').length, 0);
  });

  it('keeps the newer instance when a reloaded version retires the old one', async () => {
    const m = new OspreyMetrics({ defaultMetrics: false });
    const old = fakeVersion('/nonexistent');
    const fresh = fakeVersion('/nonexistent');
    m.bind(old);
    old.stats.recordSuccess(1, 1000, 0, 0, 0, 0);
    m.bind(fresh);
    m.unbind(old);
    const p = await text(m);
    assert.equal(p.value('nv_inference_request_success', { model: 'm', version: '1' }), 0, 'one series, the new instance');
    assert.equal(m.seriesOf(old), undefined);
    assert.ok(m.seriesOf(fresh) !== undefined);
  });

  it('reads drift_reference.json next to the model and warns about a bad one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'osprey-metrics-'));
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, new Writable({ write(c: Buffer, _e, cb) { lines.push(JSON.parse(c.toString())); cb(); } }));
    try {
      mkdirSync(join(dir, 'm', '1'), { recursive: true });
      writeFileSync(join(dir, 'm', 'drift_reference.json'), JSON.stringify({ inputs: { x: { 0: { edges: [0], proportions: [0.5, 0.5] } } } }));
      const m = new OspreyMetrics({ defaultMetrics: false, logger });
      const v = fakeVersion(dir);
      const s = m.bind(v);
      s.drift!.sampleInputs({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: new Uint8Array(new Float32Array([-1, 5, 1, 5]).buffer) }], outputs: [], batchSize: 2, shapeKey: '' });
      const p = await text(m);
      assert.equal(p.value('osprey_drift_psi', { model: 'm', version: '1', tensor: 'x', feature: '0' }), 0);
      assert.equal(p.value('osprey_drift_mean', { model: 'm', version: '1', tensor: 'x', feature: '1' }), 5);
      assert.equal(p.find('osprey_drift_psi', { tensor: 'x', feature: '1' }).length, 0, 'no reference yet for feature 1');
      assert.ok(lines.some((l) => l.msg === 'drift statistics: reference distribution loaded' && l.path === join(dir, 'm', 'drift_reference.json')));

      writeFileSync(join(dir, 'm', '1', 'drift_reference.json'), '{');
      m.bind(fakeVersion(dir));
      const warn = lines.find((l) => l.msg === 'drift statistics: invalid reference file; using the first window instead');
      assert.ok(warn !== undefined);
      assert.match(String(warn.reason), /drift_reference\.json: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('honours osprey_drift false and reports bad parameters', () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, new Writable({ write(c: Buffer, _e, cb) { lines.push(JSON.parse(c.toString())); cb(); } }));
    const m = new OspreyMetrics({ defaultMetrics: false, logger });
    assert.equal(m.bind(fakeVersion('/nonexistent', 'a', 1, { osprey_drift: 'false' })).drift, undefined);
    assert.ok(m.bind(fakeVersion('/nonexistent', 'b', 1, { osprey_drift_window: '3' })).drift !== undefined);
    assert.deepEqual(lines.filter((l) => l.msg === 'drift statistics: bad parameter').map((l) => [l.model, l.reason]),
      [['b', "parameter 'osprey_drift_window' must be an integer in [16, 1048576], got '3'; using 1024"]]);
    assert.equal(new OspreyMetrics({ defaultMetrics: false, drift: false }).bind(fakeVersion('/nonexistent')).drift, undefined);
  });
});

describe('Hist', () => {
  it('counts values at the upper bound into that bucket and beyond the last into +Inf', () => {
    const h = new Hist([1, 2]);
    for (const v of [0.5, 1, 1.5, 2, 3]) h.observe(v);
    assert.deepEqual([...h.counts], [2, 2, 1]);
    assert.equal(h.sum, 8);
    assert.equal(h.count, 5);
  });

  it('makes power-of-two batch buckets up to the maximum', () => {
    assert.deepEqual(batchBuckets(8), [1, 2, 4, 8]);
    assert.deepEqual(batchBuckets(12), [1, 2, 4, 8, 12]);
    assert.deepEqual(batchBuckets(1), [1]);
  });
});
