/**
 * JSON tensors of 65 B to 1 KiB are slices of Node's Buffer pool (src/codec/raw.ts,
 * tensorBytes): every datatype is written at the slice's own offset, byte for byte
 * what a DataView over a buffer of its own gets, and two tensors never share bytes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJsonInferRequest } from '../../../src/codec/json-request.js';
import { encodeValues } from '../../../src/codec/raw.js';
import type { DataType } from '../../../src/types/tensor.js';

/** The layout written one element at a time into a buffer of its own. */
function reference(datatype: DataType, values: readonly (number | bigint | boolean)[]): Uint8Array {
  const size: Partial<Record<DataType, number>> = { BOOL: 1, INT8: 1, UINT8: 1, INT16: 2, UINT16: 2, INT32: 4, UINT32: 4, INT64: 8, UINT64: 8, FP32: 4, FP64: 8 };
  const out = new Uint8Array(values.length * size[datatype]!);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => {
    switch (datatype) {
      case 'BOOL': dv.setUint8(i, v ? 1 : 0); break;
      case 'INT8': dv.setInt8(i, Number(v)); break;
      case 'UINT8': dv.setUint8(i, Number(v)); break;
      case 'INT16': dv.setInt16(i * 2, Number(v), true); break;
      case 'UINT16': dv.setUint16(i * 2, Number(v), true); break;
      case 'INT32': dv.setInt32(i * 4, Number(v), true); break;
      case 'UINT32': dv.setUint32(i * 4, Number(v), true); break;
      case 'INT64': dv.setBigInt64(i * 8, BigInt(v), true); break;
      case 'UINT64': dv.setBigUint64(i * 8, BigInt(v), true); break;
      case 'FP32': dv.setFloat32(i * 4, Number(v), true); break;
      case 'FP64': dv.setFloat64(i * 8, Number(v), true); break;
      default: throw new Error(datatype);
    }
  });
  return out;
}

describe('pooled JSON tensors', () => {
  it('every datatype, at sizes in and around the pooled range, is written at its own offset', () => {
    const types: DataType[] = ['BOOL', 'INT8', 'UINT8', 'INT16', 'UINT16', 'INT32', 'UINT32', 'INT64', 'UINT64', 'FP32', 'FP64'];
    for (const datatype of types) {
      for (const n of [1, 16, 17, 65, 100, 128, 129, 256, 257, 1024, 1025]) {
        const values = Array.from({ length: n }, (_, i) => (datatype === 'BOOL' ? i % 3 === 0 : datatype.startsWith('FP') ? (i - 50) / 7 : i % 100));
        const got = encodeValues(datatype, values, 'x');
        assert.deepEqual(got, reference(datatype, values), `${datatype} x ${n}`);
      }
    }
  });

  it('two tensors decoded one after the other hold separate bytes, each at an aligned offset', () => {
    const body = (x: number): Uint8Array => Buffer.from(JSON.stringify({ inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(x) }] }));
    const a = decodeJsonInferRequest(body(1.5), undefined, 'm', '').request.inputs[0]!.data;
    const b = decodeJsonInferRequest(body(-2), undefined, 'm', '').request.inputs[0]!.data;
    assert.equal(a.byteLength, 256);
    assert.equal(a.byteOffset % 8, 0);
    assert.equal(b.byteOffset % 8, 0);
    b.fill(0);
    assert.deepEqual([...new Float32Array(a.slice().buffer)], new Array(64).fill(1.5));
  });
});
