/**
 * The executor's interface (what a model version uses): place instances on threads,
 * load, run batches given as the requests' own bytes, unload; the one run-duration
 * estimate; and tensors larger than a shared slot, end to end over HTTP and gRPC.
 * Real worker threads, real onnxruntime-node sessions, a real server.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';

import { Executor } from '../../src/executor/executor.js';
import { MAIN_SPIN_US, RunEstimate, SOLO_MIN_US } from '../../src/executor/estimate.js';
import type { RunInput, RunTensor } from '../../src/types/run.js';
import { createGrpcClient, rawInferRequest, responseTensors, tensor, type GrpcTestClient } from '../helpers/grpc-client.js';
import { infer } from '../helpers/http-client.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { fixtureSpec } from '../helpers/session-spec.js';

const spec = fixtureSpec;

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const floats = (t: RunTensor | Uint8Array): number[] => {
  const d = t instanceof Uint8Array ? t : t.data;
  return [...new Float32Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength))];
};

/** `n` rows of 3 floats for autocomplete (b = a * 3), distinct per `seed`. */
function rowsOf(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: 3 * n }, (_, i) => seed * 1000 + (i % 997) / 4);
}

describe('RunEstimate: the one run-duration estimate', () => {
  it('is an EWMA of runs (input + infer + output), a solo run counted at its time times the solo threads', () => {
    const e = new RunEstimate(2);
    assert.equal(e.us, 0);
    e.record({ inputNs: 10_000, inferNs: 80_000, outputNs: 10_000, solo: false });
    assert.equal(e.us, 100);
    assert.equal(e.ms, 0.1);
    e.record({ inputNs: 0, inferNs: 200_000, outputNs: 0, solo: false });
    assert.equal(e.us, 120); // 0.8 * 100 + 0.2 * 200
    e.record({ inputNs: 0, inferNs: 50_000, outputNs: 0, solo: true });
    assert.equal(e.us, 116); // 0.8 * 120 + 0.2 * (2 * 50)
  });

  it('comes down from a cold first run even when every later run takes the solo session', () => {
    // The trap this rule replaced: solo runs went unrecorded, so a cold first run
    // (tabular: 1.8 ms against ~20 us warm) kept the version solo-worthy for good,
    // and at concurrency 1 every run took the solo session.
    const e = new RunEstimate(2);
    e.record({ inputNs: 0, inferNs: 1_800_000, outputNs: 0, solo: false });
    assert.equal(e.soloWorthy, true);
    let solo = 0;
    for (let i = 0; i < 60; i++) {
      // What the executor does: a solo run while the estimate says solo-worthy, else a plain one.
      const takesSolo = e.soloWorthy;
      if (takesSolo) solo++;
      e.record({ inputNs: 0, inferNs: takesSolo ? 12_000 : 20_000, outputNs: 0, solo: takesSolo });
    }
    assert.equal(e.soloWorthy, false);
    assert.equal(e.short, true, `estimate ${e.us} us`);
    assert.ok(solo < 20, `${solo} solo runs before it came down`);
    // A model whose runs really are long stays solo-worthy on solo runs alone
    // (two threads: 0.9 ms solo stands for at most 1.8 ms plain).
    const long = new RunEstimate(2);
    long.record({ inputNs: 0, inferNs: 1_300_000, outputNs: 0, solo: false });
    for (let i = 0; i < 60; i++) long.record({ inputNs: 0, inferNs: 900_000, outputNs: 0, solo: true });
    assert.equal(long.soloWorthy, true);
  });

  it('says which runs take the solo session and which the main thread polls for', () => {
    const e = new RunEstimate();
    e.record({ inputNs: 0, inferNs: (MAIN_SPIN_US / 2) * 1000, outputNs: 0, solo: false });
    assert.equal(e.short, true);
    assert.equal(e.soloWorthy, false);
    const long = new RunEstimate();
    long.record({ inputNs: 0, inferNs: SOLO_MIN_US * 1000, outputNs: 0, solo: false });
    assert.equal(long.short, false);
    assert.equal(long.soloWorthy, true);
  });
});

describe('Executor', { timeout: 60_000 }, () => {
  let ex: Executor;
  before(() => { ex = new Executor(2, { maxWorkers: 4 }); });
  after(() => ex.close());

  it('places instances on distinct threads, loads them, and frees the threads on unload', async () => {
    const a = ex.place(spec('autocomplete', 'ac/a'), 2);
    assert.equal(a.count, 2);
    assert.equal(new Set(a.threads).size, 2);
    const info = await a.load();
    assert.deepEqual(info.inputs.map((i) => i.name), ['a']);
    const held = (await ex.sessions()).map((keys) => keys.includes('ac/a'));
    assert.deepEqual(a.threads.map((t) => held[t]), [true, true]);
    // A second version gets threads of its own while the pool may grow.
    const b = ex.place(spec('autocomplete', 'ac/b'), 2);
    assert.deepEqual(b.threads.filter((t) => a.threads.includes(t)), []);
    await b.load();
    await a.unload();
    await a.unload(); // idempotent: releases the threads once
    assert.ok((await ex.sessions()).every((keys) => !keys.includes('ac/a')));
    // a's threads are free again: the next placement takes them before b's.
    const c = ex.place(spec('autocomplete', 'ac/c'), 2);
    assert.deepEqual([...c.threads].sort(), [...a.threads].sort());
    await c.unload();
    await b.unload();
  });

  it('runs a batch given as the requests\' own bytes, small (shared slot) and large (port), leaving them intact', async () => {
    const inst = ex.place(spec('autocomplete', 'ac/run'), 1);
    await inst.load();
    try {
      for (const [what, sizes] of [['small', [1, 2, 1]], ['larger than a slot', [7000, 5, 9000]]] as const) {
        const reqs = sizes.map((n, i) => rowsOf(n, i + 1));
        const before = reqs.map((r) => [...r]);
        const rows = sizes.reduce((s, n) => s + n, 0);
        const input: RunInput = { name: 'a', datatype: 'FP32', shape: [rows, 3], parts: reqs.map(bytesOf) };
        const r = await inst.run([input], ['b'], rows, Math.max(...sizes));
        assert.deepEqual(r.outputs[0]!.shape, [rows, 3], what);
        assert.deepEqual(floats(r.outputs[0]!), before.flat().map((v) => v * 3), what);
        // The parts are views into request bodies that stay the caller's: never detached or changed.
        assert.deepEqual(reqs.map((x) => [...x]), before, `${what}: inputs untouched`);
      }
      assert.ok(inst.estimate.us > 0, 'runs feed the estimate');
      assert.equal(inst.hasIdleInstance(), true);
    } finally {
      await inst.unload();
    }
  });

  it('estimates a slow model\'s runs from the worker\'s timings (what the batcher and the solo choice read)', async () => {
    const inst = ex.place(spec('slow', 'slow/est'), 1);
    await inst.load();
    try {
      const r = await inst.run([{ name: 'x', datatype: 'FP32', shape: [1], parts: [bytesOf(new Float32Array([4]))] }], ['y'], 1, 1);
      assert.deepEqual(floats(r.outputs[0]!), [4]);
      const computeUs = (r.timing.inputNs + r.timing.inferNs + r.timing.outputNs) / 1000;
      assert.equal(inst.estimate.us, computeUs);
      assert.ok(inst.estimate.ms > 50, `slow model estimated at ${inst.estimate.ms} ms`);
      assert.equal(inst.estimate.soloWorthy, true);
    } finally {
      await inst.unload();
    }
  });

  it('counts tracked requests in until they settle, failed ones included', async () => {
    const inst = ex.place(spec('autocomplete', 'ac/track'), 1);
    const base = ex.activeRequests;
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    assert.equal(inst.serverIdle, base === 0);
    const ok = inst.track(new Promise<void>((r) => { resolve = r; }));
    const bad = inst.track(new Promise<void>((_, r) => { reject = r; }));
    assert.equal(ex.activeRequests, base + 2);
    assert.equal(inst.serverIdle, false, 'requests in the server');
    resolve();
    await ok;
    assert.equal(ex.activeRequests, base + 1);
    reject(new Error('x'));
    await assert.rejects(bad);
    await new Promise((r) => setImmediate(r));
    assert.equal(ex.activeRequests, base);
    assert.equal(inst.serverIdle, base === 0);
    await inst.unload();
  });
});

describe('tensors larger than a shared slot, end to end', { timeout: 120_000 }, () => {
  // identity_fp32_batched: INPUT0 FP32 [-1] -> OUTPUT0, max_batch_size 8, dynamic batching.
  const MODEL = 'identity_fp32_batched';
  const N = 140_000; // 560 KB per row: over the 512 KiB slot (INLINE_BYTES) alone
  let server: TestServer;
  let grpc: GrpcTestClient;
  before(async () => {
    server = await startTestServer();
    grpc = createGrpcClient(server.grpcAddress);
  });
  after(async () => {
    grpc?.close();
    await server?.shutdown();
  });

  const row = (seed: number, n = N) => Float32Array.from({ length: n }, (_, i) => seed + i / 8);

  it('HTTP binary, HTTP JSON and gRPC raw: one large request comes back exact', async () => {
    const x = row(1);
    const bin = await infer(server.httpUrl, MODEL, {
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, N], raw: bytesOf(x) }],
      outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }],
    });
    assert.equal(bin.reply.status, 200, bin.reply.body.toString());
    assert.deepEqual(floats(bin.result!.binary.get('OUTPUT0')!), [...x]);

    const json = await infer(server.httpUrl, MODEL, { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, N], data: [...x] }] });
    assert.equal(json.reply.status, 200, json.reply.body.toString());
    assert.deepEqual(json.result!.json.outputs[0].data.map(Number), [...x]);

    const res = await grpc.infer(rawInferRequest(MODEL, [tensor('INPUT0', 'FP32', [1, N], x)]));
    const [out] = responseTensors(res);
    assert.deepEqual(out!.shape, [1, N]);
    assert.deepEqual(floats(out!.data), [...x]);
  });

  it('concurrent requests batched past the slot size each get their own rows, over both protocols', async () => {
    const n = 20_000; // 80 KB each: 8 of them batch to 640 KB
    const http = Array.from({ length: 8 }, (_, i) => row(100 + i, n));
    const viaGrpc = Array.from({ length: 8 }, (_, i) => row(200 + i, n));
    const [httpOut, grpcOut] = await Promise.all([
      Promise.all(http.map((x) => infer(server.httpUrl, MODEL, {
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, n], raw: bytesOf(x) }],
        outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }],
      }))),
      Promise.all(viaGrpc.map((x) => grpc.infer(rawInferRequest(MODEL, [tensor('INPUT0', 'FP32', [1, n], x)])))),
    ]);
    httpOut.forEach((r, i) => {
      assert.equal(r.reply.status, 200);
      assert.deepEqual(floats(r.result!.binary.get('OUTPUT0')!), [...http[i]!], `HTTP request ${i}`);
    });
    grpcOut.forEach((r, i) => assert.deepEqual(floats(responseTensors(r)[0]!.data), [...viaGrpc[i]!], `gRPC request ${i}`));
    const stats = await grpc.unary('ModelStatistics', { name: MODEL, version: '' });
    const s = stats.model_stats[0];
    assert.ok(Number(s.inference_count) > Number(s.execution_count), `some requests shared a batch: ${s.inference_count} inferences in ${s.execution_count} executions`);
  });
});
