/** The shared-memory channel's slot encoding, without threads. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import {
  REQ_INLINE_RUN, RESP_INLINE, channelBytes, fitsInline, inlineInputBytes, readRunRequest, readRunResponse,
  seqBefore, setTiming, slotOffset, slotViews, writeRunRequest, writeRunResponse,
} from '../../src/worker/channel.js';
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
