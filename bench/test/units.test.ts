/** Pure pieces of the bench: histogram, ranges, config reading, batching-off copies. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parsePbtxt } from '../baselines/pbtxt.js';
import { median } from '../harness/median.js';
import { OSPREY_REPOSITORY } from '../harness/paths.js';
import { stripDynamicBatching } from '../harness/repo-copy.js';
import { Histogram, summarize } from '../loadgen/histogram.js';
import { parseRange } from '../loadgen/ranges.js';

const REPO = OSPREY_REPOSITORY;

test('histogram quantiles are within 1% of the exact ones', () => {
  const h = new Histogram();
  const xs: number[] = [];
  let seed = 7;
  for (let i = 0; i < 20_000; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const v = 50 + (seed / 2 ** 31) ** 3 * 200_000; // skewed, 50 us .. 200 ms
    xs.push(v);
    h.record(v);
  }
  xs.sort((a, b) => a - b);
  for (const q of [0.5, 0.9, 0.99, 0.999]) {
    const exact = xs[Math.ceil(q * xs.length) - 1];
    assert.ok(Math.abs(h.quantile(q) - exact) / exact < 0.01, `q${q}: ${h.quantile(q)} vs ${exact}`);
  }
  const s = summarize(h);
  assert.equal(s.max, Math.round(xs[xs.length - 1]));
  assert.equal(s.min, Math.round(xs[0]));
  const merged = new Histogram().merge(h).merge(h);
  assert.equal(merged.count, 40_000);
  assert.equal(merged.quantile(0.5), h.quantile(0.5));
});

test('ranges: additive and multiplicative steps, end included', () => {
  assert.deepEqual(parseRange('1:256:x2'), [1, 2, 4, 8, 16, 32, 64, 128, 256]);
  assert.deepEqual(parseRange('1:64:x4'), [1, 4, 16, 64]);
  assert.deepEqual(parseRange('100:2000:500'), [100, 600, 1100, 1600, 2000]);
  assert.deepEqual(parseRange('8'), [8]);
  assert.throws(() => parseRange('0:4'), /bad range/);
});

test('pbtxt reader sees what the baselines need in the bundled configs', () => {
  const cfg = parsePbtxt(readFileSync(`${REPO}/cnn/config.pbtxt`, 'utf8'));
  assert.equal(cfg.max_batch_size[0], 32);
  const input = cfg.input[0] as Record<string, unknown[]>;
  assert.equal(input.name[0], 'image');
  assert.equal(input.data_type[0], 'TYPE_FP32');
  assert.deepEqual(input.dims, [3, 32, 32]);
});

test('batching off removes only the dynamic_batching block', () => {
  const text = readFileSync(`${REPO}/tabular/config.pbtxt`, 'utf8');
  const off = stripDynamicBatching(text);
  assert.ok(text.includes('dynamic_batching') && !off.includes('dynamic_batching'));
  assert.deepEqual(Object.keys(parsePbtxt(off)).sort(), Object.keys(parsePbtxt(text)).filter((k) => k !== 'dynamic_batching').sort());
  assert.equal(stripDynamicBatching('a: 1\ndynamic_batching { preferred_batch_size: [4] x { y: 1 } }\nb: 2'), 'a: 1\n\nb: 2');
});

test('median: odd and even counts, unsorted input left alone, non-finite values ignored, NaN when none', () => {
  const xs = [5, 1, 3];
  assert.equal(median(xs), 3);
  assert.deepEqual(xs, [5, 1, 3]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([2, NaN, Infinity, 4]), 3);
  assert.ok(Number.isNaN(median([])));
  assert.ok(Number.isNaN(median([NaN])));
});
