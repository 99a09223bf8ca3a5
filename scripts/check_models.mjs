// Load every committed ONNX model with onnxruntime-node and run one inference.
//
//   node scripts/check_models.mjs            # check all models (exit 1 on any failure)
//   node scripts/check_models.mjs --bench    # also time cnn and slow (1 intra-op thread)
//
// Run from the repository root. Models are produced by scripts/make_models.py.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(ROOT, 'model-repository');
const TEST = path.join(ROOT, 'test', 'fixtures', 'models');
const BENCH = process.argv.includes('--bench');

const opts = { intraOpNumThreads: 1, interOpNumThreads: 1 };
const T = (type, data, dims) => new ort.Tensor(type, data, dims);
const f32 = (n, fn = (i) => i) => Float32Array.from({ length: n }, (_, i) => fn(i));

let failures = 0;
function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}
function show(outputs) {
  const o = {};
  for (const [k, v] of Object.entries(outputs)) {
    const data = Array.from(v.data, (x) => (typeof x === 'bigint' ? `${x}n` : x));
    o[k] = { type: v.type, dims: v.dims, data: data.length > 12 ? [...data.slice(0, 12), '...'] : data };
  }
  return JSON.stringify(o);
}
async function load(repo, model, version = 1) {
  return ort.InferenceSession.create(path.join(repo, model, String(version), 'model.onnx'), opts);
}
async function check(label, fn) {
  try {
    await fn();
    console.log(`ok    ${label}`);
  } catch (e) {
    failures++;
    console.log(`FAIL  ${label}: ${e && e.message}`);
  }
}
async function timeit(session, feeds, runs) {
  for (let i = 0; i < 3; i++) await session.run(feeds); // warm-up
  const ts = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ts.sort((a, b) => a - b);
  return { median: ts[Math.floor(ts.length / 2)], min: ts[0], max: ts[ts.length - 1] };
}

// ------------------------------------------------------------------ model-repository/
await check('model-repository/tabular', async () => {
  const s = await load(MAIN, 'tabular');
  const out = await s.run({ features: T('float32', f32(2 * 64, (i) => (i % 64) / 64), [2, 64]) });
  console.log('      ', show(out));
  assert(out.score.dims.join() === '2,1', 'score dims [2,1]');
  for (const v of out.score.data) assert(v > 0 && v < 1, 'sigmoid range');
});

await check('model-repository/simple', async () => {
  const s = await load(MAIN, 'simple');
  const a = Int32Array.from({ length: 16 }, (_, i) => i);
  const b = Int32Array.from({ length: 16 }, () => 1);
  const out = await s.run({ INPUT0: T('int32', a, [1, 16]), INPUT1: T('int32', b, [1, 16]) });
  console.log('      ', show(out));
  for (let i = 0; i < 16; i++) {
    assert(out.OUTPUT0.data[i] === i + 1, 'OUTPUT0 = INPUT0 + INPUT1');
    assert(out.OUTPUT1.data[i] === i - 1, 'OUTPUT1 = INPUT0 - INPUT1');
  }
});

await check('model-repository/string_identity', async () => {
  const s = await load(MAIN, 'string_identity');
  const out = await s.run({ INPUT0: T('string', ['hello', 'wörld ✓'], [2, 1]) });
  console.log('      ', show(out));
  assert(out.OUTPUT0.type === 'string' && out.OUTPUT0.data[1] === 'wörld ✓', 'string round trip');
});

for (const repo of [MAIN, TEST]) {
  for (const v of [1, 2]) {
    await check(`${path.relative(ROOT, repo)}/scaler v${v}`, async () => {
      const s = await load(repo, 'scaler', v);
      const out = await s.run({ x: T('float32', f32(4, (i) => i + 1), [1, 4]) });
      console.log('      ', show(out));
      for (let i = 0; i < 4; i++) assert(out.y.data[i] === (i + 1) * v, `y = x * ${v}`);
    });
  }
}

await check('model-repository/cnn', async () => {
  const s = await load(MAIN, 'cnn');
  const img = f32(3 * 32 * 32, (i) => Math.sin(i) * 0.5);
  const out = await s.run({ image: T('float32', img, [1, 3, 32, 32]) });
  console.log('      ', show(out));
  assert(out.logits.dims.join() === '1,10', 'logits dims [1,10]');
  if (BENCH) {
    const r1 = await timeit(s, { image: T('float32', img, [1, 3, 32, 32]) }, 200);
    console.log(`       cnn batch 1, 1 thread: median ${r1.median.toFixed(3)} ms (min ${r1.min.toFixed(3)}, max ${r1.max.toFixed(3)})`);
    const img8 = f32(8 * 3 * 32 * 32, (i) => Math.sin(i) * 0.5);
    const r8 = await timeit(s, { image: T('float32', img8, [8, 3, 32, 32]) }, 50);
    console.log(`       cnn batch 8, 1 thread: median ${r8.median.toFixed(3)} ms`);
  }
});

// ------------------------------------------------------------------ test/fixtures/models/
await check('fixtures/identity_all', async () => {
  const s = await load(TEST, 'identity_all');
  const feeds = {
    IN_BOOL: T('bool', Uint8Array.from([1, 0, 1]), [3]),
    IN_UINT8: T('uint8', Uint8Array.from([0, 255]), [2]),
    IN_UINT16: T('uint16', Uint16Array.from([0, 65535]), [2]),
    IN_UINT32: T('uint32', Uint32Array.from([0, 4294967295]), [2]),
    IN_UINT64: T('uint64', BigUint64Array.from([0n, 18446744073709551615n]), [2]),
    IN_INT8: T('int8', Int8Array.from([-128, 127]), [2]),
    IN_INT16: T('int16', Int16Array.from([-32768, 32767]), [2]),
    IN_INT32: T('int32', Int32Array.from([-2147483648, 2147483647]), [2]),
    IN_INT64: T('int64', BigInt64Array.from([-9223372036854775808n, 9223372036854775807n]), [2]),
    IN_FP16: T('float16', Uint16Array.from([0x3c00, 0xc000]), [2]), // 1.0, -2.0
    IN_FP32: T('float32', Float32Array.from([1.5, -2.25, 3]), [3]),
    IN_FP64: T('float64', Float64Array.from([Math.PI]), [1]),
    IN_STRING: T('string', ['a', '', 'ünïcode'], [3]),
  };
  const out = await s.run(feeds);
  console.log('      ', show(out));
  for (const [k, v] of Object.entries(feeds)) {
    const o = out[k.replace(/^IN_/, 'OUT_')];
    assert(o && o.type === v.type, `${k} type`);
    assert(o.dims.join() === v.dims.join(), `${k} dims`);
    const a = Array.from(v.data), b = Array.from(o.data);
    assert(a.length === b.length && a.every((x, i) => x === b[i] || Number(x) === Number(b[i])), `${k} data`);
  }
});

await check('fixtures/identity_fp32_batched', async () => {
  const s = await load(TEST, 'identity_fp32_batched');
  const out = await s.run({ INPUT0: T('float32', f32(4 * 3), [4, 3]) });
  console.log('      ', show(out));
  assert(out.OUTPUT0.dims.join() === '4,3' && out.OUTPUT0.data[11] === 11, 'identity');
});

await check('fixtures/classifier', async () => {
  const s = await load(TEST, 'classifier');
  const out = await s.run({ x: T('float32', f32(2 * 8, (i) => (i % 8) - 3.5), [2, 8]) });
  console.log('      ', show(out));
  const p = Array.from(out.probs.data);
  assert(out.probs.dims.join() === '2,5', 'probs dims');
  assert(Math.abs(p.slice(0, 5).reduce((a, b) => a + b) - 1) < 1e-5, 'softmax sums to 1');
});

await check('fixtures/slow', async () => {
  const s = await load(TEST, 'slow');
  const out = await s.run({ x: T('float32', Float32Array.from([1.25]), [1]) });
  console.log('      ', show(out));
  assert(out.y.data[0] === 1.25, 'y == x');
  const out2 = await s.run({ x: T('float32', Float32Array.from([-7]), [1]) });
  assert(out2.y.data[0] === -7, 'y == x');
  if (BENCH) {
    const r = await timeit(s, { x: T('float32', Float32Array.from([0.5]), [1]) }, 10);
    console.log(`       slow, 1 thread: median ${r.median.toFixed(1)} ms (min ${r.min.toFixed(1)}, max ${r.max.toFixed(1)})`);
  }
});

await check('fixtures/autocomplete', async () => {
  const s = await load(TEST, 'autocomplete');
  console.log('       inputs', s.inputNames, 'outputs', s.outputNames);
  const out = await s.run({ a: T('float32', f32(2 * 3), [2, 3]) });
  console.log('      ', show(out));
  for (let i = 0; i < 6; i++) assert(out.b.data[i] === i * 3, 'b = a * 3');
});

await check('fixtures/flaky', async () => {
  const s = await load(TEST, 'flaky');
  const x = T('float32', Float32Array.from([0.5, 0.5, 0.5]), [3, 1]);
  const out = await s.run({ x, idx: T('int64', BigInt64Array.from([0n, 3n, -4n]), [3, 1]) });
  console.log('      ', show(out));
  assert([...out.y.data].join() === '10.5,40.5,10.5', 'valid idx');
  for (const bad of [4n, -5n, 100n]) {
    let threw = null;
    try {
      await s.run({ x: T('float32', Float32Array.from([0.5]), [1, 1]), idx: T('int64', BigInt64Array.from([bad]), [1, 1]) });
    } catch (e) {
      threw = e;
    }
    assert(threw, `idx ${bad} must throw`);
    console.log(`       idx=${bad} throws: ${String(threw.message).split('\n')[0]}`);
  }
  // The session is still usable after a failed run.
  const again = await s.run({ x: T('float32', Float32Array.from([1]), [1, 1]), idx: T('int64', BigInt64Array.from([1n]), [1, 1]) });
  assert(again.y.data[0] === 21, 'usable after failure');
});

for (const m of ['bad_config', 'mismatch']) {
  await check(`fixtures/${m} (onnx only)`, async () => {
    const s = await load(TEST, m);
    console.log('       inputs', s.inputNames, 'outputs', s.outputNames);
    const a = Int32Array.from({ length: 16 }, (_, i) => i);
    const out = await s.run({ INPUT0: T('int32', a, [1, 16]), INPUT1: T('int32', a, [1, 16]) });
    assert(out.OUTPUT0.data[5] === 10 && out.OUTPUT1.data[5] === 0, 'simple semantics');
  });
}

console.log(failures ? `\n${failures} check(s) FAILED` : '\nall models OK');
process.exit(failures ? 1 : 0);
