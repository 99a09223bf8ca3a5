/**
 * The shared conformance suite: every case of cases.ts, plus the scenarios that
 * need several requests (statistics deltas, classification against the
 * probabilities, concurrency, a responsive main thread, the response cache), run
 * through one Driver. `http.test.ts` and `grpc.test.ts` call `conformanceSuite`
 * with their own server and driver.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { EXTENSIONS } from '../../src/dataplane/dataplane.js';
import { fromRaw, toRaw } from '../helpers/http-client.js';
import {
  ALL_MODELS, CANARY, CLASSIFIER_LABELS, CONFIG_CASES, ERROR_CASES, EXPECTED_EXTENSIONS, FORMS, INDEX_ENTRIES,
  INFERENCE_STAT_KEYS, INFER_CASES, METADATA_CASES, NOT_ADVERTISED, PERF_ANALYZER_STAT_KEYS, READY_CASES,
  type ExpectedError, type ExpectedTensor, type Form, type InferCase, type InferReply, type InferSpec,
  type Outcome, type Protocol, messageFor, simpleOutputs, simpleRequest,
} from './cases.js';
import type { Driver, Stats } from './drivers.js';

export interface SuiteContext {
  driver: Driver;
}

const PACKAGE_VERSION: string = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version;

// ---------------------------------------------------------------- assertions

export function assertError(out: Outcome<unknown>, expected: ExpectedError, protocol: Protocol, form?: Form): void {
  const message = messageFor(expected.message, protocol, form);
  const code = protocol === 'http' ? expected.http : expected.grpc;
  assert.ok(!out.ok, `expected an error (${code} "${message}"), got success`);
  assert.deepEqual({ code: out.code, message: out.message }, { code, message });
}

function expectedRaw(e: ExpectedTensor): Uint8Array | undefined {
  if (e.raw !== undefined) return e.raw;
  if (e.values !== undefined) return toRaw(e.datatype, e.values);
  return undefined;
}

/** Outputs match name, datatype, shape and raw bytes (bit for bit), in order. */
export function assertOutputs(reply: InferReply, expected: readonly ExpectedTensor[]): void {
  assert.deepEqual(reply.outputs.map((o) => o.name), expected.map((e) => e.name), 'output names, in order');
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const got = reply.outputs[i]!;
    assert.deepEqual({ datatype: got.datatype, shape: got.shape }, { datatype: e.datatype, shape: e.shape }, `output ${e.name}`);
    const raw = expectedRaw(e);
    if (raw !== undefined) {
      if (e.datatype !== 'FP16' && e.datatype !== 'BF16') {
        // Values first, for a readable diff; then every bit (NaN payloads, -0).
        assert.deepEqual(fromRaw(e.datatype, got.raw), fromRaw(e.datatype, raw), `values of ${e.name}`);
      }
      assert.ok(Buffer.from(got.raw).equals(Buffer.from(raw)), `bytes of ${e.name} differ`);
    }
    e.check?.(got);
  }
}

export async function runInferCase(driver: Driver, c: InferCase, form: Form): Promise<Outcome<InferReply>> {
  const out = await driver.infer(c.request, form);
  if ('error' in c.expect) {
    assertError(out, c.expect.error, driver.protocol, form);
    return out;
  }
  assert.ok(out.ok, `expected success, got ${out.ok ? '' : `${out.code} ${out.message}`}`);
  const reply = out.value;
  assert.equal(reply.modelName, c.request.model);
  if (c.expect.modelVersion !== undefined) assert.equal(reply.modelVersion, c.expect.modelVersion);
  assert.equal(reply.id, c.expect.id ?? c.request.id ?? '');
  assertOutputs(reply, c.expect.outputs);
  return out;
}

/**
 * `actual` holds every key of `expected` with the same value; arrays must have the
 * same length. `int64AsString`: gRPC (proto-loader) writes 64-bit integers as
 * decimal strings, accepted for expected numbers.
 */
export function assertSubset(actual: unknown, expected: unknown, int64AsString: boolean, path = '$'): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array, got ${JSON.stringify(actual)}`);
    assert.equal(actual.length, expected.length, `${path}: length`);
    expected.forEach((e, i) => assertSubset(actual[i], e, int64AsString, `${path}[${i}]`));
    return;
  }
  if (typeof expected === 'object' && expected !== null) {
    assert.ok(typeof actual === 'object' && actual !== null, `${path}: expected an object, got ${JSON.stringify(actual)}`);
    for (const [k, v] of Object.entries(expected)) {
      assert.ok(k in actual, `${path}.${k} is missing`);
      assertSubset((actual as Record<string, unknown>)[k], v, int64AsString, `${path}.${k}`);
    }
    return;
  }
  if (typeof expected === 'number' && int64AsString && typeof actual === 'string') {
    assert.equal(actual, String(expected), path);
    return;
  }
  assert.equal(actual, expected, path);
}

async function stats(driver: Driver, model: string, version: string): Promise<Stats> {
  const out = await driver.modelStatistics(model, version);
  assert.ok(out.ok, out.ok ? '' : out.message);
  assert.equal(out.value.length, 1);
  return out.value[0]!;
}

async function inferOk(driver: Driver, spec: InferSpec, form: Form = 'raw'): Promise<InferReply> {
  const out = await driver.infer(spec, form);
  assert.ok(out.ok, out.ok ? '' : `${out.code} ${out.message}`);
  return out.value;
}

const f32s = (raw: Uint8Array): Float32Array => new Float32Array(new Uint8Array(raw).buffer);
const hex = (raw: Uint8Array): string => Buffer.from(raw).toString('hex');

// ---------------------------------------------------------------- the suite

export function conformanceSuite(protocol: Protocol, ctx: () => SuiteContext): void {
  const d = (): Driver => ctx().driver;

  describe(`${protocol}: health and server metadata`, () => {
    it('live', async () => {
      assert.equal(await d().live(), true);
    });

    it('not ready under --strict-readiness while bad_config and mismatch failed to load', async () => {
      assert.equal(await d().ready(), false);
    });

    it('server metadata: name, version, extensions exactly what is implemented', async () => {
      const m = await d().serverMetadata();
      assert.equal(m.name, 'triton', "tritonserver's --id default");
      assert.equal(m.version, PACKAGE_VERSION);
      assert.deepEqual(m.extensions, [...EXPECTED_EXTENSIONS]);
      assert.deepEqual([...EXTENSIONS, 'system_shared_memory', 'cuda_shared_memory'], [...EXPECTED_EXTENSIONS]);
      for (const x of NOT_ADVERTISED) assert.ok(!(m.extensions as string[]).includes(x), `${x} is not implemented`);
    });
  });

  describe(`${protocol}: model metadata`, () => {
    for (const c of METADATA_CASES) {
      it(c.name, async () => {
        const out = await d().modelMetadata(c.model, c.version);
        if ('error' in c.expect) return assertError(out, c.expect.error, protocol);
        assert.ok(out.ok, out.ok ? '' : out.message);
        assert.deepEqual(out.value, c.expect.value);
      });
    }
  });

  describe(`${protocol}: model ready`, () => {
    for (const c of READY_CASES) {
      it(c.name, async () => {
        const out = await d().modelReady(c.model, c.version);
        if ('error' in c.expect) return assertError(out, c.expect.error, protocol);
        if ('ready' in c.expect) return assert.deepEqual(out, { ok: true, value: true });
        if (protocol === 'http') assert.deepEqual(out, { ok: false, code: 400, message: c.expect.notReady });
        else assert.deepEqual(out, { ok: true, value: false });
      });
    }
  });

  describe(`${protocol}: model config`, () => {
    for (const c of CONFIG_CASES) {
      it(c.name, async () => {
        const out = await d().modelConfig(c.model, c.version);
        if ('error' in c.expect) return assertError(out, c.expect.error, protocol);
        assert.ok(out.ok, out.ok ? '' : out.message);
        assertSubset(out.value, c.expect.subset, protocol === 'grpc');
      });
    }
  });

  describe(`${protocol}: repository index`, () => {
    it('every model, with states and the reasons of the ones that failed', async () => {
      const all = await d().repositoryIndex(false);
      assert.deepEqual([...new Set(all.map((e) => e.name))], ALL_MODELS);
      for (const want of INDEX_ENTRIES) {
        const got = all.filter((e) => e.name === want.name && e.version === want.version);
        assert.deepEqual(got, [want], `index entry for ${want.name} ${want.version ?? ''}`);
      }
    });

    it('ready: true lists only READY versions', async () => {
      const ready = await d().repositoryIndex(true);
      assert.ok(ready.length > 0);
      assert.ok(ready.every((e) => e.state === 'READY' && e.version !== undefined && e.reason === undefined));
      assert.ok(!ready.some((e) => e.name === 'bad_config' || e.name === 'mismatch'));
      assert.equal(ready.filter((e) => e.name === 'scaler').length, 2);
    });
  });

  describe(`${protocol}: inference`, () => {
    for (const c of INFER_CASES) {
      for (const form of c.forms ?? FORMS) {
        it(`${c.name} [${form}]`, async () => {
          await runInferCase(d(), c, form);
        });
      }
    }

    it('tabular is deterministic, and a row scores the same alone as in a batch', async () => {
      const rows = [0, 1, 2].map((r) => Array.from({ length: 64 }, (_, j) => Math.cos(r * 64 + j)));
      const spec = (rs: number[][]): InferSpec => ({
        model: 'tabular', inputs: [{ name: 'features', datatype: 'FP32', shape: [rs.length, 64], values: rs.flat() }],
      });
      const batch = await inferOk(d(), spec(rows));
      const again = await inferOk(d(), spec(rows));
      assert.equal(hex(batch.outputs[0]!.raw), hex(again.outputs[0]!.raw));
      for (let r = 0; r < rows.length; r++) {
        const alone = await inferOk(d(), spec([rows[r]!]));
        assert.equal(hex(alone.outputs[0]!.raw), hex(batch.outputs[0]!.raw.subarray(r * 4, r * 4 + 4)), `row ${r}`);
      }
    });

    it('classification: top-k "<value>:<index>:<label>" computed from the probabilities', async () => {
      const x = Array.from({ length: 3 * 8 }, (_, i) => Math.sin(i * 1.7) * 3);
      const spec: InferSpec = { model: 'classifier', inputs: [{ name: 'x', datatype: 'FP32', shape: [3, 8], values: x }] };
      const probs = f32s((await inferOk(d(), spec)).outputs[0]!.raw);
      const expectTop = (k: number): string[] => {
        const out: string[] = [];
        for (let r = 0; r < 3; r++) {
          const row = [...probs.subarray(r * 5, r * 5 + 5)];
          const order = row.map((_, i) => i).sort((a, b) => row[b]! - row[a]! || a - b);
          for (const i of order.slice(0, k)) out.push(`${row[i]!.toFixed(6)}:${i}:${CLASSIFIER_LABELS[i]}`);
        }
        return out;
      };
      for (const form of FORMS) {
        for (const [k, shown] of [[1, 1], [3, 3], [7, 5]] as const) {
          const reply = await inferOk(d(), { ...spec, outputs: [{ name: 'probs', parameters: { classification: k } }] }, form);
          const got = reply.outputs[0]!;
          assert.deepEqual({ name: got.name, datatype: got.datatype, shape: got.shape }, { name: 'probs', datatype: 'BYTES', shape: [3, shown] });
          assert.deepEqual(fromRaw('BYTES', got.raw), expectTop(shown), `k=${k} [${form}]`);
        }
      }
      // The top class really is the arg-max of each row (e.g. "0.394:1:dog").
      const top1 = expectTop(1).map((s) => s.split(':'));
      for (let r = 0; r < 3; r++) {
        const row = [...probs.subarray(r * 5, r * 5 + 5)];
        assert.equal(Number(top1[r]![1]), row.indexOf(Math.max(...row)));
      }
    });
  });

  describe(`${protocol}: bad inputs get an exact error and the server keeps serving`, () => {
    for (const c of ERROR_CASES) {
      for (const form of c.forms ?? FORMS) {
        it(`${c.name} [${form}]`, async () => {
          await runInferCase(d(), c, form);
          await runInferCase(d(), CANARY, form);
        });
      }
    }
  });

  describe(`${protocol}: statistics`, () => {
    it('every key perf_analyzer reads is there', async () => {
      const raw = await d().rawStatistics('simple');
      assert.ok(Array.isArray(raw.model_stats) && raw.model_stats.length === 1);
      const s = raw.model_stats[0];
      for (const k of PERF_ANALYZER_STAT_KEYS) assert.ok(k in s, `model_stats[0].${k}`);
      assert.equal(s.name, 'simple');
      assert.equal(s.version, '1');
      for (const k of INFERENCE_STAT_KEYS) {
        assert.ok(k in s.inference_stats, `inference_stats.${k}`);
        assert.ok('count' in s.inference_stats[k] && 'ns' in s.inference_stats[k], `inference_stats.${k}.{count,ns}`);
      }
      assert.ok(Array.isArray(s.batch_stats));
      assert.ok(Array.isArray(s.memory_usage));
      assert.ok('last_inference' in s);
    });

    it('counts move by exactly the traffic sent', async () => {
      const s0 = await stats(d(), 'scaler', '1');
      const otherBefore = await stats(d(), 'scaler', '2');
      const x = (n: number): InferSpec => ({
        model: 'scaler', version: '1', inputs: [{ name: 'x', datatype: 'FP32', shape: [n, 4], values: Array.from({ length: n * 4 }, (_, i) => i) }],
      });
      for (const n of [2, 2, 2, 1]) await inferOk(d(), x(n));
      const bad = await d().infer({ ...x(1), inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 5], values: [1, 2, 3, 4, 5] }] }, 'raw');
      assert.equal(bad.ok, false);
      const s1 = await stats(d(), 'scaler', '1');

      assert.equal(s1.name, 'scaler');
      assert.equal(s1.version, '1');
      assert.equal(s1.inference_count - s0.inference_count, 7, 'inference_count counts rows');
      assert.equal(s1.execution_count - s0.execution_count, 4, 'execution_count counts model runs');
      const delta = (k: string) => s1.inference_stats[k]!.count - s0.inference_stats[k]!.count;
      assert.equal(delta('success'), 4);
      assert.equal(delta('fail'), 1);
      assert.equal(delta('queue'), 4);
      assert.equal(delta('compute_input'), 4);
      assert.equal(delta('compute_infer'), 4);
      assert.equal(delta('compute_output'), 4);
      assert.equal(delta('cache_hit'), 0);
      assert.equal(delta('cache_miss'), 0);
      assert.ok(s1.inference_stats.success!.ns > s0.inference_stats.success!.ns);
      assert.ok(s1.last_inference >= s0.last_inference && s1.last_inference > Date.now() - 60_000);
      const batch = (s: Stats, n: number) => (s.batch_stats.find((b) => b.batch_size === n)?.compute_infer as { count: number } | undefined)?.count ?? 0;
      assert.equal(batch(s1, 2) - batch(s0, 2), 3);
      assert.equal(batch(s1, 1) - batch(s0, 1), 1);
      assert.deepEqual(await stats(d(), 'scaler', '2'), otherBefore, 'the other version did not move');
    });

    it('all models at once, and every version of one model', async () => {
      const all = await d().modelStatistics();
      assert.ok(all.ok);
      const keys = all.value.map((s) => `${s.name}/${s.version}`);
      for (const k of ['simple/1', 'scaler/1', 'scaler/2', 'tabular/1']) assert.ok(keys.includes(k), k);
      const scaler = await d().modelStatistics('scaler');
      assert.ok(scaler.ok);
      assert.deepEqual(scaler.value.map((s) => s.version).sort(), ['1', '2']);
    });

    it('unknown model, unknown version', async () => {
      assertError(await d().modelStatistics('x'), { http: 400, grpc: 3, message: "Request for unknown model: 'x' is not found" }, protocol);
      assertError(await d().modelStatistics('simple', '7'), { http: 400, grpc: 3, message: "Request for unknown model: 'simple' version 7 is not found" }, protocol);
    });
  });

  describe(`${protocol}: under load`, () => {
    it('64 concurrent requests are batched and each answer equals its unbatched result bit for bit', async () => {
      const N = 64;
      // identity_fp32_batched: each answer is its own input.
      const idReq = (k: number): InferSpec => ({
        model: 'identity_fp32_batched', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 8], values: Array.from({ length: 8 }, (_, j) => k * 8 + j + 0.25) }],
      });
      const idBefore = await stats(d(), 'identity_fp32_batched', '1');
      const ids = await Promise.all(Array.from({ length: N }, (_, k) => inferOk(d(), idReq(k))));
      const idAfter = await stats(d(), 'identity_fp32_batched', '1');
      ids.forEach((r, k) => assert.equal(hex(r.outputs[0]!.raw), hex(toRaw('FP32', idReq(k).inputs[0]!.values!)), `request ${k}`));
      assert.equal(idAfter.inference_count - idBefore.inference_count, N);
      assert.equal(idAfter.inference_stats.success!.count - idBefore.inference_stats.success!.count, N);
      assert.ok(idAfter.execution_count - idBefore.execution_count < N, `identity: ${idAfter.execution_count - idBefore.execution_count} executions for ${N} requests`);

      // tabular: a learned model; unbatched answers first, one at a time.
      const tabReq = (k: number): InferSpec => ({
        model: 'tabular', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 64], values: Array.from({ length: 64 }, (_, j) => Math.sin(k * 64 + j) * 1.5) }],
      });
      const alone: string[] = [];
      for (let k = 0; k < N; k++) alone.push(hex((await inferOk(d(), tabReq(k))).outputs[0]!.raw));
      // The client shares this process's event loop, so its requests reach the server
      // over several turns, and one answered before the next arrives runs alone (the
      // hot hand-off): up to five tries for a round in which some of them shared a batch.
      const runs: number[] = [];
      for (let tries = 0; tries < 5 && !runs.some((n) => n < N); tries++) {
        const tabBefore = await stats(d(), 'tabular', '1');
        const together = await Promise.all(Array.from({ length: N }, (_, k) => inferOk(d(), tabReq(k))));
        const tabAfter = await stats(d(), 'tabular', '1');
        together.forEach((r, k) => assert.equal(hex(r.outputs[0]!.raw), alone[k], `request ${k}`));
        assert.equal(tabAfter.inference_count - tabBefore.inference_count, N);
        runs.push(tabAfter.execution_count - tabBefore.execution_count);
      }
      assert.ok(runs.some((n) => n < N), `tabular: ${runs.join(', ')} executions for ${N} requests`);
    });

    const slowReq: InferSpec = { model: 'slow', inputs: [{ name: 'x', datatype: 'FP32', shape: [1], values: [2.5] }] };

    /** 3 concurrent slow requests (slow has 2 instances) and, 20 ms in, one to simple. */
    async function slowAndSimple(): Promise<{ p99: number; max: number; simpleMs: number; slowDone: number[] }> {
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      const t0 = performance.now();
      const slowDone: number[] = [];
      const slows = [0, 1, 2].map(() => inferOk(d(), slowReq).then((r) => {
        slowDone.push(performance.now() - t0);
        return r;
      }));
      await new Promise((r) => setTimeout(r, 20));
      const s0 = performance.now();
      const o = simpleOutputs(1, 12);
      const simple = await inferOk(d(), simpleRequest(1, 12));
      const simpleMs = performance.now() - s0;
      const results = await Promise.all(slows);
      h.disable();
      for (const r of results) assert.equal(f32s(r.outputs[0]!.raw)[0], 2.5);
      assertOutputs(simple, [o.sum, o.diff]);
      return { p99: h.percentile(99) / 1e6, max: h.max / 1e6, simpleMs, slowDone };
    }

    describe('while slow computes (3 concurrent requests on its 2 instances)', () => {
      let slowAloneMs = 0;
      let r: Awaited<ReturnType<typeof slowAndSimple>>;
      before(async () => {
        const a0 = performance.now();
        await inferOk(d(), slowReq);
        slowAloneMs = performance.now() - a0;
        r = await slowAndSimple();
      });

      it('the main thread stays responsive (event-loop delay p99 < 50 ms)', (t) => {
        t.diagnostic(`event-loop delay p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms; slow done at ${r.slowDone.map((x) => x.toFixed(0)).join(', ')} ms`);
        assert.ok(r.p99 < 50, `event-loop delay p99 ${r.p99} ms`);
      });

      // Each model instance has a worker thread of its own (executor/pool.ts allocate),
      // as in Triton, so with slow busy on both of its instances simple still answers in
      // milliseconds instead of waiting behind a whole slow run. The bound is one whole
      // run of slow alone (its solo session, both cores: ~100 ms); behind a shared thread
      // simple would wait for the rest of a plain run (150-300 ms, started 20 ms before).
      // Usually 4-12 ms here; half a run (the bound until session 7) failed once in CI on
      // a quiet machine at 57 ms: the first slow request of the burst takes the solo
      // session, whose two spinning intra-op threads and the other slow run hold both
      // cores while simple's worker waits for one.
      it('a request to simple answers quickly, not behind a whole slow run', (t) => {
        t.diagnostic(`one slow run alone: ${slowAloneMs.toFixed(0)} ms; simple during 3 slow runs: ${r.simpleMs.toFixed(0)} ms`);
        assert.ok(r.simpleMs < slowAloneMs,
          `simple took ${r.simpleMs.toFixed(0)} ms while one slow run takes ${slowAloneMs.toFixed(0)} ms: it waited behind slow on a shared worker thread`);
      });
    });
  });

  describe(`${protocol}: response cache`, () => {
    it('a second identical request is a cache hit', async () => {
      const spec = { ...simpleRequest(2, 13), model: 'simple_cached' };
      const o = simpleOutputs(2, 13);
      const first = await inferOk(d(), spec);
      const second = await inferOk(d(), spec);
      assertOutputs(first, [o.sum, o.diff]);
      assertOutputs(second, [o.sum, o.diff]);
      assert.equal(second.modelVersion, '1');
      const s = await stats(d(), 'simple_cached', '1');
      assert.equal(s.inference_stats.cache_miss!.count, 1);
      assert.equal(s.inference_stats.cache_hit!.count, 1);
      assert.equal(s.inference_stats.success!.count, 2);
      assert.equal(s.inference_count, 4, 'two requests of batch 2');
      assert.equal(s.execution_count, 1, 'the hit did not run the model');
      // A different request misses.
      const other = await inferOk(d(), { ...simpleRequest(2, 14), model: 'simple_cached' }, 'typed');
      const o2 = simpleOutputs(2, 14);
      assertOutputs(other, [o2.sum, o2.diff]);
      const s2 = await stats(d(), 'simple_cached', '1');
      assert.equal(s2.inference_stats.cache_miss!.count, 2);
      assert.equal(s2.inference_stats.cache_hit!.count, 1);
      // A model without response_cache never touches the cache.
      const plain = await stats(d(), 'simple', '1');
      assert.equal(plain.inference_stats.cache_hit!.count + plain.inference_stats.cache_miss!.count, 0);
    });
  });
}
