/**
 * The small parts: the sticky hash (pinned values: it must never change, or every
 * A/B assignment would move on upgrade), the sliding window, and the output
 * comparison.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PairComparison, compareOutput } from '../../src/routing/compare.js';
import { fnv1a32, keyPoint } from '../../src/routing/hash.js';
import { SlidingWindow } from '../../src/routing/window.js';
import type { Tensor } from '../../src/types/tensor.js';
import { f32 } from './fakes.js';

describe('sticky hash', () => {
  it('is FNV-1a (reference vectors) and stable', () => {
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
    // Pinned: changing these moves every sticky assignment.
    assert.equal(keyPoint('alice', 'm'), 0.3004817934706807);
    assert.equal(keyPoint('bob', 'm'), 0.3293803564738482);
  });

  it('spreads keys uniformly (chi-square over 10 buckets)', () => {
    const n = 100_000;
    const b = new Array<number>(10).fill(0);
    for (let i = 0; i < n; i++) b[Math.floor(keyPoint(`user-${i}`, 'exp') * 10)]!++;
    const e = n / 10;
    const chi2 = b.reduce((s, x) => s + (x - e) ** 2 / e, 0);
    // 9 degrees of freedom: P(chi2 > 27.88) = 0.001.
    assert.ok(chi2 < 27.88, `chi2 ${chi2.toFixed(1)} buckets ${b.join(',')}`);
  });

  it('the salt separates policies', () => {
    let same = 0;
    for (let i = 0; i < 1000; i++) if ((keyPoint(`k${i}`, 'a') < 0.5) === (keyPoint(`k${i}`, 'b') < 0.5)) same++;
    assert.ok(same > 400 && same < 600, `${same} of 1000 keys on the same side under two salts`);
  });
});

describe('sliding window', () => {
  it('counts errors and reports p99 within a bucket (~9%)', () => {
    const w = new SlidingWindow(10_000);
    for (let i = 1; i <= 1000; i++) w.record(true, i / 100, 500); // 0.01 .. 10 ms, uniform
    for (let i = 0; i < 10; i++) w.record(false, 0, 500);
    const s = w.snapshot(600);
    assert.equal(s.samples, 1010);
    assert.equal(s.errors, 10);
    assert.equal(s.error_rate, 10 / 1010);
    assert.ok(Math.abs(s.p99_ms - 9.9) / 9.9 < 0.06, `p99 ${s.p99_ms}`);
    assert.ok(Math.abs(s.p50_ms - 5) / 5 < 0.06, `p50 ${s.p50_ms}`);
  });

  it('forgets what is older than the window', () => {
    const w = new SlidingWindow(1000);
    for (let i = 0; i < 100; i++) w.record(false, 1, 50);
    assert.equal(w.snapshot(900).samples, 100);
    assert.equal(w.snapshot(1150).samples, 0, 'slot [0,100) left the window at 1100');
    w.record(true, 1, 1200);
    assert.deepEqual([w.snapshot(1250).samples, w.snapshot(1250).errors], [1, 0]);
  });
});

describe('shadow comparison', () => {
  const stats = () => ({ name: 'y', compared: 0, exact: 0, mismatched: 0, elements: 0, sumAbs: 0, maxAbs: 0, topRows: 0, topDiffers: 0 });

  it('exact match, max and mean abs difference', () => {
    const s = stats();
    assert.equal(compareOutput(f32('y', [1, 3], [1, 2, 3]), f32('y', [1, 3], [1, 2, 3]), s).exact, true);
    const d = compareOutput(f32('y', [1, 3], [1, 2, 3]), f32('y', [1, 3], [2, 2, 1]), s);
    assert.equal(d.exact, false);
    assert.equal(d.maxAbs, 2);
    assert.deepEqual([s.compared, s.exact, s.elements, s.sumAbs, s.maxAbs], [2, 1, 6, 3, 2]);
  });

  it('top-class disagreement for [batch, classes] float outputs', () => {
    const c = new PairComparison();
    c.add([f32('p', [2, 3], [0.1, 0.8, 0.1, 0.6, 0.3, 0.1])], [f32('p', [2, 3], [0.1, 0.7, 0.2, 0.2, 0.3, 0.5])]);
    const snap = c.snapshot();
    assert.equal(snap.top_class_rows, 2);
    assert.equal(snap.top_class_disagreements, 1);
    assert.equal(snap.top_class_disagreement_rate, 0.5);
    assert.equal(snap.exact_match_rate, 0);
    assert.ok(Math.abs(snap.outputs[0]!.max_abs_diff - 0.4) < 1e-6);
  });

  it('shape or datatype mismatch is counted, not diffed; BYTES compare exactly', () => {
    const c = new PairComparison();
    c.add([f32('y', [1, 2], [1, 2])], [f32('y', [2, 1], [1, 2])]);
    c.add([f32('y', [1, 2], [1, 2])], []);
    const bytes = (s: string): Tensor => ({ name: 'b', datatype: 'BYTES', shape: [1], data: new Uint8Array([s.length, 0, 0, 0, ...Buffer.from(s)]) });
    c.add([bytes('ab')], [bytes('ab')]);
    const snap = c.snapshot();
    assert.equal(snap.compared, 3);
    assert.equal(snap.exact_matches, 1);
    assert.equal(snap.outputs.find((o) => o.name === 'y')!.mismatched, 2);
    assert.equal(snap.top_class_disagreement_rate, null);
  });

  it('reads unaligned, INT64 and FP16 tensors', () => {
    const buf = new Uint8Array(9);
    buf.set(new Uint8Array(new Float32Array([1.5, 2]).buffer), 1);
    const unaligned: Tensor = { name: 'y', datatype: 'FP32', shape: [2], data: buf.subarray(1) };
    assert.equal(compareOutput(unaligned, f32('y', [2], [1, 2]), stats()).maxAbs, 0.5);
    const i64 = (v: bigint[]): Tensor => ({ name: 'y', datatype: 'INT64', shape: [v.length], data: new Uint8Array(new BigInt64Array(v).buffer) });
    assert.equal(compareOutput(i64([5n, -3n]), i64([5n, 4n]), stats()).maxAbs, 7);
    const h = (v: number[]): Tensor => ({ name: 'y', datatype: 'FP16', shape: [v.length], data: new Uint8Array(new Uint16Array(v).buffer) });
    assert.equal(compareOutput(h([0x3c00]), h([0x4000]), stats()).maxAbs, 1); // 1.0 vs 2.0
  });
});
