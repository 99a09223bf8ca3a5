/**
 * Drift statistics driven directly: window statistics, PSI against the first
 * window and against a reference file, sampling, caps, datatypes, options.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ModelConfig } from '../../src/config/model-config.js';
import type { PreparedRequest } from '../../src/request/prepare.js';
import { DRIFT_DEFAULTS, type DriftOptions, TensorDrift, VersionDrift, driftOptions } from '../../src/obs/drift.js';
import { buildReference, parseReferenceFile, psi, readReferenceFile } from '../../src/obs/drift-reference.js';
import type { DataType } from '../../src/types/tensor.js';
import { normals } from './random.js';

function tabularConfig(parameters: Record<string, string> = {}): ModelConfig {
  return {
    name: 'tabular', max_batch_size: 64,
    input: [{ name: 'features', data_type: 'TYPE_FP32', dims: [64] }],
    output: [{ name: 'score', data_type: 'TYPE_FP32', dims: [1] }],
    parameters: Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, { string_value: v }])),
  } as unknown as ModelConfig;
}

function f32Rows(rows: number, width: number, next: () => number, shift = 0): Uint8Array {
  const a = new Float32Array(rows * width);
  for (let i = 0; i < a.length; i++) a[i] = next() + shift;
  return new Uint8Array(a.buffer);
}

function request(data: Uint8Array, rows: number, name = 'features', datatype: DataType = 'FP32', width = 64): PreparedRequest {
  return { inputs: [{ name, datatype, shape: [rows, width], data }], outputs: [], batchSize: rows, shapeKey: '' };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('VersionDrift on a tabular model', () => {
  it('takes the first full window as reference; unshifted stays under 0.1, shifted passes 0.25', async () => {
    const d = new VersionDrift(tabularConfig(), driftOptions(tabularConfig())!);
    const t = d.inputs[0]!;
    assert.equal(t.features, 16, 'capped to osprey_drift_features (16 by default)');
    const next = normals(42);
    for (let i = 0; i < 16; i++) d.sampleInputs(request(f32Rows(64, 64, next), 64));
    assert.ok(t.references.every((r) => r === undefined), 'reference is built off the request path');
    await tick();
    assert.ok(t.references.every((r) => r !== undefined));
    // The window is the reference: PSI 0.
    for (const s of t.stats()) assert.ok(Math.abs(s.psi) < 1e-12, String(s.psi));

    for (let i = 0; i < 16; i++) d.sampleInputs(request(f32Rows(64, 64, next), 64));
    const calm = t.stats();
    assert.equal(calm.length, 16);
    for (const s of calm) {
      assert.equal(s.count, 1024);
      assert.ok(s.psi < 0.1, `unshifted feature ${s.feature}: psi ${s.psi}`);
      assert.ok(Math.abs(s.mean) < 0.15, `mean ${s.mean}`);
      assert.ok(Math.abs(s.std - 1) < 0.1, `std ${s.std}`);
    }

    for (let i = 0; i < 16; i++) d.sampleInputs(request(f32Rows(64, 64, next, 1), 64));
    for (const s of t.stats()) {
      assert.ok(s.psi > 0.25, `shifted feature ${s.feature}: psi ${s.psi}`);
      assert.ok(s.mean > 0.85 && s.mean < 1.15, `mean ${s.mean}`);
      assert.ok(s.min < s.mean && s.max > s.mean);
    }
    d.close();
  });

  it('counts NaN and Inf apart, and slides min/max as rows leave the window', () => {
    const cfg = tabularConfig({ osprey_drift_window: '16', osprey_drift_features: '2' });
    const d = new VersionDrift(cfg, driftOptions(cfg)!);
    const t = d.inputs[0]!;
    const rows = new Float32Array(16 * 64);
    rows[0] = NaN;
    rows[64] = Infinity;
    rows[128] = 1000;
    rows[1] = -5;
    d.sampleInputs(request(new Uint8Array(rows.buffer), 16));
    let [f0, f1] = t.stats();
    assert.equal(f0!.nanCount, 2);
    assert.equal(f0!.count, 14);
    assert.equal(f0!.max, 1000);
    assert.equal(f1!.min, -5);
    // 16 new rows of ones push everything out.
    d.sampleInputs(request(new Uint8Array(new Float32Array(16 * 64).fill(1).buffer), 16));
    [f0, f1] = t.stats();
    assert.deepEqual([f0!.nanCount, f0!.count, f0!.min, f0!.max, f0!.mean, f0!.std], [0, 16, 1, 1, 1, 0]);
    assert.equal(f1!.min, 1);
    d.close();
  });

  it('samples every k-th row across requests and never more than a window per request', () => {
    const cfg = tabularConfig({ osprey_drift_sample_every: '3', osprey_drift_window: '16' });
    const d = new VersionDrift(cfg, driftOptions(cfg)!);
    const t = d.inputs[0]!;
    const rowsOf = (values: number[]): Uint8Array => {
      const a = new Float32Array(values.length * 64);
      values.forEach((v, r) => { a[r * 64] = v; });
      return new Uint8Array(a.buffer);
    };
    d.sampleInputs(request(rowsOf([0, 1, 2, 3]), 4)); // rows 0 and 3
    d.sampleInputs(request(rowsOf([4, 5]), 2)); // none
    d.sampleInputs(request(rowsOf([6, 7, 8]), 3)); // row 6
    assert.equal(t.rows, 3);
    const s = t.stats()[0]!;
    assert.equal(s.count, 3);
    assert.equal(s.mean, 3);
    // 64 rows at every 3rd = 22 candidates, but the window holds 16: only the last 16 are copied.
    const many = rowsOf(Array.from({ length: 64 }, (_, i) => 100 + i));
    d.sampleInputs(request(many, 64));
    assert.equal(t.rows, 3 + 16);
    const last = t.stats()[0]!;
    assert.equal(last.max, 100 + 63 - ((63 - 0) % 3)); // sampled rows 0, 3, ..., 63 -> value 163
    assert.equal(last.min, 100 + 63 - 15 * 3);
    d.close();
  });

  it('reads unaligned views and other datatypes', () => {
    const cfg = {
      name: 'm', max_batch_size: 4,
      input: [
        { name: 'h', data_type: 'TYPE_FP16', dims: [2] },
        { name: 'i', data_type: 'TYPE_INT64', dims: [2] },
        { name: 'b', data_type: 'TYPE_BOOL', dims: [2] },
        { name: 's', data_type: 'TYPE_STRING', dims: [1] },
        { name: 'v', data_type: 'TYPE_FP32', dims: [-1] },
      ],
      output: [{ name: 'o', data_type: 'TYPE_FP64', dims: [1] }],
      parameters: {},
    } as unknown as ModelConfig;
    const d = new VersionDrift(cfg, { ...DRIFT_DEFAULTS });
    assert.deepEqual(d.all.map((t) => t.name), ['h', 'i', 'b', 'o'], 'BYTES and variable-sized tensors are not tracked');
    // FP16 1.5 = 0x3e00, -2 = 0xc000; placed at an odd offset.
    const hb = new Uint8Array(5);
    const hv = new DataView(hb.buffer);
    hv.setUint16(1, 0x3e00, true);
    hv.setUint16(3, 0xc000, true);
    const ib = new Uint8Array(16);
    new DataView(ib.buffer).setBigInt64(0, -7n, true);
    new DataView(ib.buffer).setBigInt64(8, 1n << 40n, true);
    d.sampleInputs({
      inputs: [
        { name: 'h', datatype: 'FP16', shape: [1, 2], data: hb.subarray(1) },
        { name: 'i', datatype: 'INT64', shape: [1, 2], data: ib },
        { name: 'b', datatype: 'BOOL', shape: [1, 2], data: new Uint8Array([0, 3]) },
      ],
      outputs: [], batchSize: 1, shapeKey: '',
    });
    d.sampleOutputs([{ name: 'o', datatype: 'FP64', shape: [1, 1], data: new Uint8Array(new Float64Array([0.25]).buffer) }], 1);
    const means = d.all.map((t) => t.stats().map((s) => s.mean));
    assert.deepEqual(means, [[1.5, -2], [-7, 2 ** 40], [0, 1], [0.25]]);
    d.close();
  });

  it('skips an optional input that is absent', () => {
    const cfg = {
      name: 'm', max_batch_size: 4,
      input: [{ name: 'a', data_type: 'TYPE_FP32', dims: [1], optional: true }, { name: 'b', data_type: 'TYPE_FP32', dims: [1] }],
      output: [], parameters: {},
    } as unknown as ModelConfig;
    const d = new VersionDrift(cfg, { ...DRIFT_DEFAULTS });
    d.sampleInputs({ inputs: [{ name: 'b', datatype: 'FP32', shape: [1, 1], data: new Uint8Array(new Float32Array([4]).buffer) }], outputs: [], batchSize: 1, shapeKey: '' });
    assert.equal(d.inputs[0]!.rows, 0);
    assert.equal(d.inputs[1]!.stats()[0]!.mean, 4);
    d.close();
  });
  it('retries a reference for a feature with no finite value one window later, not on every request', async () => {
    const cfg = tabularConfig({ osprey_drift_window: '16', osprey_drift_features: '1' });
    const d = new VersionDrift(cfg, driftOptions(cfg)!);
    const t = d.inputs[0]!;
    const nan = new Uint8Array(new Float32Array(16 * 64).fill(NaN).buffer);
    d.sampleInputs(request(nan, 16));
    assert.equal(t.needsReference, true);
    await tick();
    assert.equal(t.references[0], undefined);
    assert.equal(t.needsReference, false, 'not again before another window');
    d.sampleInputs(request(new Uint8Array(new Float32Array(8 * 64).fill(2).buffer), 8));
    assert.equal(t.needsReference, false);
    d.sampleInputs(request(new Uint8Array(new Float32Array(8 * 64).fill(3).buffer), 8));
    assert.equal(t.needsReference, true);
    await tick();
    assert.deepEqual([...t.references[0]!.edges], [2, 3]);
    assert.equal(t.stats()[0]!.psi, 0);
    d.close();
  });
});

describe('reference distributions', () => {
  it('builds quantile bins whose shares match the sample', () => {
    const next = normals(7);
    const values = Array.from({ length: 10_000 }, next);
    const ref = buildReference(values, 10)!;
    assert.equal(ref.edges.length, 9);
    for (const p of ref.proportions) assert.ok(Math.abs(p - 0.1) < 0.002, String(p));
    // A constant feature collapses to one edge and two bins.
    const flat = buildReference([3, 3, 3, 3], 10)!;
    assert.deepEqual([...flat.edges], [3]);
    assert.deepEqual([...flat.proportions], [1, 0]);
    assert.equal(buildReference([NaN, Infinity], 10), undefined);
  });

  it('computes PSI with a floor for empty bins', () => {
    const ref = { edges: Float64Array.from([0]), proportions: Float64Array.from([0.5, 0.5]) };
    assert.equal(psi(ref, Float64Array.from([50, 50]), 100), 0);
    const v = psi(ref, Float64Array.from([100, 0]), 100);
    const expected = (1 - 0.5) * Math.log(1 / 0.5) + (1e-4 - 0.5) * Math.log(1e-4 / 0.5);
    assert.ok(Math.abs(v - expected) < 1e-12);
  });

  it('loads drift_reference.json from the version folder, then the model folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'osprey-drift-'));
    try {
      assert.equal(readReferenceFile(dir, '1'), undefined);
      const doc = { inputs: { features: { 0: { edges: [0], proportions: [1, 1] }, 2: { edges: [-1, 1], proportions: [0.25, 0.5, 0.25] } } }, outputs: { score: [null, { edges: [0.5], proportions: [0.5, 0.5] }] } };
      writeFileSync(join(dir, 'drift_reference.json'), JSON.stringify(doc));
      const found = readReferenceFile(dir, '1')!;
      assert.equal(found.path, join(dir, 'drift_reference.json'));
      const f0 = found.table.inputs.get('features')!.get(0)!;
      assert.deepEqual([...f0.proportions], [0.5, 0.5], 'normalized');
      assert.deepEqual([...found.table.outputs.get('score')!.keys()], [1]);
      mkdirSync(join(dir, '1'));
      writeFileSync(join(dir, '1', 'drift_reference.json'), '{"inputs": {}}');
      assert.equal(readReferenceFile(dir, '1')!.path, join(dir, '1', 'drift_reference.json'));
      writeFileSync(join(dir, '1', 'drift_reference.json'), '{"inputs": {"x": {"0": {"edges": [1, 1], "proportions": [1, 1, 1]}}}}');
      assert.throws(() => readReferenceFile(dir, '1'), { message: `${join(dir, '1', 'drift_reference.json')}: inputs.x[0]: edges must be strictly increasing` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects malformed reference files with the reason', () => {
    const bad: Array<[string, string]> = [
      ['[]', 'expected a JSON object with "inputs" and/or "outputs"'],
      ['{"inputs": []}', '"inputs" must be an object keyed by tensor name'],
      ['{"inputs": {"x": {"a": {"edges": [], "proportions": [1]}}}}', "inputs.x: feature key 'a' is not a non-negative integer"],
      ['{"inputs": {"x": {"0": {"edges": [0], "proportions": [1]}}}}', 'inputs.x[0]: proportions must have edges.length + 1 = 2 entries'],
      ['{"inputs": {"x": {"0": {"edges": [0], "proportions": [1, -1]}}}}', 'inputs.x[0]: proportions must be non-negative numbers'],
      ['{"inputs": {"x": {"0": {"edges": ["0"], "proportions": [1, 1]}}}}', 'inputs.x[0]: edges must be an array of finite numbers'],
      ['{"outputs": {"y": {"0": {"edges": [0], "proportions": [0, 0]}}}}', 'outputs.y[0]: proportions must not all be 0'],
    ];
    for (const [text, message] of bad) assert.throws(() => parseReferenceFile(text), { message }, text);
  });

  it('uses file references at once and the first window for features the file does not name', async () => {
    const cfg = tabularConfig({ osprey_drift_window: '256', osprey_drift_features: '2' });
    const refs = parseReferenceFile(JSON.stringify({ inputs: { features: { 1: { edges: [0], proportions: [0.5, 0.5] } } } }));
    const d = new VersionDrift(cfg, driftOptions(cfg)!, refs);
    const t = d.inputs[0]!;
    const next = normals(3);
    d.sampleInputs(request(f32Rows(64, 64, next, 2), 64));
    const [f0, f1] = t.stats();
    assert.ok(Number.isNaN(f0!.psi), 'feature 0 waits for the first window');
    assert.ok(f1!.psi > 1, `feature 1 is far off the file's reference: ${f1!.psi}`);
    for (let i = 0; i < 3; i++) d.sampleInputs(request(f32Rows(64, 64, next, 2), 64));
    await tick();
    assert.ok(Math.abs(t.stats()[0]!.psi) < 1e-12);
    assert.equal(t.references[1]!.edges[0], 0, 'the file reference is kept');
    d.close();
  });
});

describe('driftOptions', () => {
  it('reads the model parameters', () => {
    assert.deepEqual(driftOptions(tabularConfig()), { features: 16, window: 1024, sampleEvery: 1, bins: 10 });
    assert.equal(driftOptions(tabularConfig({ osprey_drift: 'false' })), undefined);
    assert.equal(driftOptions(tabularConfig({ osprey_drift: ' FALSE ' })), undefined);
    const o: DriftOptions | undefined = driftOptions(tabularConfig({
      osprey_drift: 'true', osprey_drift_features: '64', osprey_drift_window: '4096', osprey_drift_sample_every: '8', osprey_drift_bins: '20',
    }));
    assert.deepEqual(o, { features: 64, window: 4096, sampleEvery: 8, bins: 20 });
  });

  it('falls back to defaults for bad values and says why', () => {
    const warnings: string[] = [];
    const o = driftOptions(tabularConfig({ osprey_drift_features: '0', osprey_drift_window: 'big' }), warnings);
    assert.deepEqual(o, DRIFT_DEFAULTS);
    assert.deepEqual(warnings, [
      "parameter 'osprey_drift_features' must be an integer in [1, 1024], got '0'; using 16",
      "parameter 'osprey_drift_window' must be an integer in [16, 1048576], got 'big'; using 1024",
    ]);
  });

  it('caps the tracked features at the row size', () => {
    const t = new TensorDrift('x', 'x', 'FP32', 4, { ...DRIFT_DEFAULTS, features: 16 }, undefined);
    assert.equal(t.features, 4);
  });
});
