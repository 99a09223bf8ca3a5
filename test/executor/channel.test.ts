/** The shared-memory channel's slot encoding and the hot hand-off's poll gate, without threads. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import {
  REQ_INLINE_RUN, RESP_INLINE, channelBytes, copyToShared, fitsInline, inlineInputBytes, readRunRequest, readRunResponse, seqBefore, setTiming, slotOffset, slotViews, writeRunRequest, writeRunResponse,
} from '../../src/worker/channel.js';
import {
  CONTENDED_REST_TICKS, HINT_ACTIVE, HINT_BURST, HINT_REST_TICKS, HINT_STRIKES_AT, MAX_REST_TICKS, STRIKES_TO_REST, STRIKE_WINDOW_TICKS, markContended, HINT_BYTES, HINT_CONTENDED_AT, HINT_MULTI_AT, burstHot, hintTick, hotQuiet, pollFor,
} from '../../src/worker/hint.js';
import { Arrivals } from '../../src/executor/handoff.js';
import type { RunTensor } from '../../src/types/run.js';

const layout = { slots: 4, slotDataBytes: 256 };

function slot() {
  const sab = new SharedArrayBuffer(channelBytes(layout));
  return slotViews(sab, layout)[1]!;
}

describe('channel', () => {
  it('lays slots out after the control block, by sequence number modulo slots', () => {
    assert.equal(slotOffset(layout, 0), slotOffset(layout, 4));
    assert.equal(slotOffset(layout, -1), slotOffset(layout, 3));
    assert.ok(slotOffset(layout, 1) > slotOffset(layout, 0));
  });

  it('compares sequence numbers across int32 wrap-around', () => {
    assert.ok(seqBefore(1, 2));
    assert.ok(!seqBefore(2, 2));
    assert.ok(!seqBefore(3, 2));
    assert.ok(seqBefore(0x7fffffff, 0x7fffffff + 1 | 0));
    assert.ok(seqBefore(-1, 0));
  });

  it('round-trips a run request, copying inputs out of shared memory', () => {
    const v = slot();
    // The first input in two parts (two requests' rows): written one after the other.
    const a1 = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    const a2 = new Uint8Array(new Float32Array([4, 5, 6]).buffer);
    const b = new Uint8Array([9]);
    const inputs = [
      { name: 'a', datatype: 'FP32' as const, shape: [2, 3], parts: [a1, a2] },
      { name: 'ünïcode', datatype: 'BOOL' as const, shape: [1], parts: [b] },
    ];
    assert.equal(inlineInputBytes(inputs), 24 + 1);
    assert.ok(writeRunRequest(v, 'model/1#k', inputs, ['y', 'z'], 7, 3, true));
    assert.equal(v.i32[0], REQ_INLINE_RUN);
    const req = readRunRequest(v);
    assert.equal(req.key, 'model/1#k');
    assert.deepEqual([req.rows, req.largest, req.solo], [7, 3, true]);
    assert.deepEqual(req.outputs, ['y', 'z']);
    assert.deepEqual(req.inputs.map((i) => [i.name, i.datatype, i.shape]), [['a', 'FP32', [2, 3]], ['ünïcode', 'BOOL', [1]]]);
    assert.ok(req.inputs[0]!.data.buffer instanceof ArrayBuffer, 'copied out of shared memory');
    assert.deepEqual([...new Float32Array(req.inputs[0]!.data.buffer, req.inputs[0]!.data.byteOffset, 6)], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...req.inputs[1]!.data], [9]);
    assert.ok(writeRunRequest(v, 'k', inputs.slice(1), ['y'], 1, 1, false));
    assert.equal(readRunRequest(v).solo, false);
  });

  it('copies bytes at any offset into shared memory exactly (realigned or not)', () => {
    const sab = new SharedArrayBuffer(4096);
    const dst = new Uint8Array(sab, 8, 4000);
    for (const n of [1, 255, 256, 1000, 3001]) {
      for (const src of [0, 1, 3, 7]) {
        for (const off of [0, 1, 4, 9]) {
          const b = new Uint8Array(n + 16);
          for (let i = 0; i < b.length; i++) b[i] = (i * 7 + n) & 255;
          const p = b.subarray(src, src + n);
          dst.fill(0);
          copyToShared(dst, off, p);
          assert.deepEqual(dst.subarray(off, off + n), p, `n=${n} src=${src} off=${off}`);
          assert.equal(dst[off + n], 0, 'nothing written past the part');
          if (off > 0) assert.equal(dst[off - 1], 0, 'nothing written before the part');
        }
      }
    }
  });

  it('reads inputs into the buffers it is given, growing them, each run its own bytes', () => {
    const v = slot();
    const reuse: Uint8Array[] = [];
    const one = (vals: number[]) => ({ name: 'a', datatype: 'FP32' as const, shape: [vals.length], parts: [new Uint8Array(new Float32Array(vals).buffer)] });
    assert.ok(writeRunRequest(v, 'k', [one([1, 2, 3, 4]), one([5])], ['y'], 1, 1, false));
    let req = readRunRequest(v, reuse);
    assert.equal(reuse.length, 2);
    assert.equal(req.inputs[0]!.data.buffer, reuse[0]!.buffer);
    assert.deepEqual([...new Float32Array(req.inputs[0]!.data.buffer, req.inputs[0]!.data.byteOffset, 4)], [1, 2, 3, 4]);
    const kept = reuse[0];
    assert.ok(writeRunRequest(v, 'k', [one([7, 8]), one([9, 10, 11])], ['y'], 1, 1, false));
    req = readRunRequest(v, reuse);
    assert.equal(reuse[0], kept, 'large enough: reused');
    assert.deepEqual(req.inputs.map((t) => t.data.byteLength), [8, 12]);
    assert.deepEqual([...new Float32Array(req.inputs[1]!.data.buffer, req.inputs[1]!.data.byteOffset, 3)], [9, 10, 11]);
    assert.deepEqual([...new Float32Array(req.inputs[0]!.data.buffer, req.inputs[0]!.data.byteOffset, 2)], [7, 8]);
  });

  it('refuses requests that do not fit (data, header, or a dim beyond int32)', () => {
    const v = slot();
    const big = { name: 'a', datatype: 'FP32' as const, shape: [65], parts: [new Uint8Array(260)] };
    assert.equal(writeRunRequest(v, 'k', [big], ['y'], 1, 1, false), false);
    const bigParts = { name: 'a', datatype: 'FP32' as const, shape: [65], parts: [new Uint8Array(200), new Uint8Array(60)] };
    assert.equal(writeRunRequest(v, 'k', [bigParts], ['y'], 1, 1, false), false);
    assert.equal(writeRunRequest(v, 'k'.repeat(5000), [], ['y'], 1, 1, false), false);
    const huge = { name: 'a', datatype: 'FP32' as const, shape: [0, 2 ** 40], parts: [] };
    assert.equal(writeRunRequest(v, 'k', [huge], ['y'], 1, 1, false), false);
  });

  it('round-trips a response into caller-owned buffers', () => {
    const v = slot();
    const outs = [
      { name: 'y', datatype: 'FP32' as const, shape: [2], data: new Uint8Array(new Float32Array([4, 5]).buffer) },
      { name: 'z', datatype: 'INT64' as const, shape: [1], data: new Uint8Array(new BigInt64Array([-3n]).buffer) },
    ];
    assert.ok(fitsInline(v, outs));
    writeRunResponse(v, outs);
    setTiming(v, { inputNs: 1, inferNs: 2, outputNs: 3, solo: true });
    assert.equal(v.i32[0], RESP_INLINE);
    const r = readRunResponse(v, ['y', 'z']);
    assert.deepEqual(r.timing, { inputNs: 1, inferNs: 2, outputNs: 3, solo: true });
    assert.deepEqual(r.outputs.map((o) => [o.name, o.datatype, o.shape]), [['y', 'FP32', [2]], ['z', 'INT64', [1]]]);
    const [y, z] = r.outputs as [RunTensor, RunTensor];
    assert.ok(y.data.buffer instanceof ArrayBuffer, 'copied out of shared memory');
    assert.deepEqual([...new Float32Array(y.data.buffer, y.data.byteOffset, 2)], [4, 5]);
    assert.deepEqual([...new BigInt64Array(z.data.buffer, z.data.byteOffset, 1)], [-3n]);
    assert.equal(fitsInline(v, [{ name: 'w', datatype: 'UINT8', shape: [257], data: new Uint8Array(257) }]), false);
  });
});

describe('hot hand-off polls (pollFor, hotQuiet)', () => {
  function hintBlock(): Int32Array {
    const hint = new Int32Array(new SharedArrayBuffer(HINT_BYTES));
    Atomics.store(hint, HINT_MULTI_AT, hintTick() - 1000);
    Atomics.store(hint, HINT_CONTENDED_AT, hintTick() - 1000);
    return hint;
  }
  /** Holds this thread like a descheduled poll would be held. */
  function busy(ms: number): void {
    const until = performance.now() + ms;
    while (performance.now() < until) { /* off the poll's clock */ }
  }

  it('returns true when ready, false when the budget passes', () => {
    const hint = hintBlock();
    let n = 0;
    // Without the rest: under load this test's own thread may lose its core too.
    assert.equal(pollFor(hint, 5_000_000, false, () => ++n === 3), true);
    const t0 = performance.now();
    assert.equal(pollFor(hint, 2_000, false, () => false), false);
    assert.ok(performance.now() - t0 >= 2, 'polled for its whole budget');
    assert.equal(hotQuiet(hint), true);
  });

  it('a poll that loses its core stops at once; the third within ~1 s makes both sides rest; without rest it polls on', () => {
    const hint = hintBlock();
    let calls = 0;
    // The first look is slow, as if the thread had been descheduled for 2 ms.
    const losing = (): boolean => pollFor(hint, 1_000_000, true, () => { if (calls++ === 1) busy(2); return false; });
    for (let strike = 1; strike <= STRIKES_TO_REST; strike++) {
      calls = 0;
      const t0 = performance.now();
      assert.equal(losing(), false);
      assert.ok(performance.now() - t0 < 500, 'stopped long before its 1 s budget');
      assert.equal(hotQuiet(hint), strike < STRIKES_TO_REST, strike < STRIKES_TO_REST ? `strike ${strike}: no rest yet` : 'resting');
    }
    // The rest ends CONTENDED_REST_TICKS (16 ms ticks) later.
    Atomics.store(hint, HINT_CONTENDED_AT, hintTick() - CONTENDED_REST_TICKS - 1);
    assert.equal(hotQuiet(hint), true);

    const off = hintBlock();
    calls = 0;
    assert.equal(pollFor(off, 5_000_000, false, () => { if (calls++ === 1) busy(2); return calls > 1000; }), true);
    assert.equal(hotQuiet(off), true, 'rest off: nothing marked');
  });

  it('a burst: requests that reach an idle server in one turn, until one arrives in a later turn beside them (Arrivals, burstHot)', async () => {
    const hint = hintBlock();
    const arrivals = new Arrivals(hint);
    const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
    assert.equal(burstHot(hint), false, 'nothing arrived yet');
    for (let i = 0; i < 64; i++) arrivals.in();
    assert.equal(Atomics.load(hint, HINT_ACTIVE), 64);
    assert.equal(burstHot(hint), true, 'one turn, into an idle server');
    assert.equal(hotQuiet(hint), false, 'not concurrency 1');
    await turn();
    arrivals.out();
    assert.equal(burstHot(hint), true, 'answering it keeps it a burst');
    arrivals.in();
    assert.equal(burstHot(hint), false, 'one more in a later turn: a flow');
    for (let i = 0; i < 64; i++) arrivals.out();
    assert.equal(Atomics.load(hint, HINT_ACTIVE), 0);
    assert.equal(burstHot(hint), false, 'idle: still a flow until the next arrival');
    await turn();
    arrivals.in();
    assert.equal(burstHot(hint), true, 'the next arrival into the idle server starts a burst');
    // A poll that lost its core rests the burst's polls too.
    Atomics.store(hint, HINT_CONTENDED_AT, hintTick());
    assert.equal(burstHot(hint), false, 'resting');
    assert.equal(Atomics.load(hint, HINT_BURST), 1);
    arrivals.out();
  });

  it('a rest doubles while polls keep losing their core (up to ~2 s) and starts over after a quiet spell', () => {
    const hint = hintBlock();
    const restingFor = (ago: number): boolean => {
      Atomics.store(hint, HINT_CONTENDED_AT, hintTick() - ago);
      return !hotQuiet(hint);
    };
    const rest = (): void => { for (let i = 0; i < STRIKES_TO_REST; i++) markContended(hint); };
    rest();
    assert.equal(Atomics.load(hint, HINT_REST_TICKS), CONTENDED_REST_TICKS, 'the first rest');
    rest();
    assert.equal(Atomics.load(hint, HINT_REST_TICKS), 2 * CONTENDED_REST_TICKS, 'lost again at once: twice as long');
    assert.equal(restingFor(CONTENDED_REST_TICKS + 1), true);
    assert.equal(restingFor(2 * CONTENDED_REST_TICKS + 1), false);
    for (let i = 0; i < 10; i++) rest();
    assert.equal(Atomics.load(hint, HINT_REST_TICKS), MAX_REST_TICKS);
    // Long after the last rest, the next one is the short one again.
    Atomics.store(hint, HINT_CONTENDED_AT, hintTick() - 3 * MAX_REST_TICKS);
    rest();
    assert.equal(Atomics.load(hint, HINT_REST_TICKS), CONTENDED_REST_TICKS);
    // Lost polls further apart than the strike window never add up to a rest.
    const spread = hintBlock();
    for (let i = 0; i < 5; i++) {
      markContended(spread);
      Atomics.store(spread, HINT_STRIKES_AT, hintTick() - STRIKE_WINDOW_TICKS - 1);
    }
    assert.equal(hotQuiet(spread), true, 'one lost poll a second: no rest');
  });

  it('never polls while the server holds two requests, or held two in the last ~50 ms', () => {
    const hint = hintBlock();
    Atomics.store(hint, HINT_ACTIVE, 2);
    assert.equal(hotQuiet(hint), false);
    Atomics.store(hint, HINT_ACTIVE, 1);
    Atomics.store(hint, HINT_MULTI_AT, hintTick());
    assert.equal(hotQuiet(hint), false);
    Atomics.store(hint, HINT_MULTI_AT, hintTick() - 10);
    assert.equal(hotQuiet(hint), true);
  });
});
