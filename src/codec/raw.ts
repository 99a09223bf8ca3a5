/**
 * Triton's raw tensor layout <-> JS values. Shared by the JSON codec (HTTP) and
 * the typed-`contents` codec (gRPC); both protocols' raw forms already are this
 * layout and pass through untouched.
 */
import { isUtf8 } from 'node:buffer';
import { InvalidArgument } from '../errors/errors.js';
import { type DataType, ELEMENT_SIZE, elementCount } from '../types/tensor.js';

export type ScalarValue = number | boolean | string | bigint;

const INT_RANGE: Partial<Record<DataType, [number, number]>> = {
  INT8: [-128, 127], INT16: [-32768, 32767], INT32: [-2147483648, 2147483647],
  UINT8: [0, 255], UINT16: [0, 65535], UINT32: [0, 4294967295],
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

/** Split a raw BYTES tensor into element views; throws when a length prefix runs past the end. */
export function splitBytes(raw: Uint8Array, name: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let off = 0;
  while (off < raw.byteLength) {
    if (off + 4 > raw.byteLength) {
      throw new InvalidArgument(`incomplete string length for inference input '${name}', expecting 4 bytes but only ${raw.byteLength - off} bytes available`);
    }
    const len = view.getUint32(off, true);
    off += 4;
    if (off + len > raw.byteLength) {
      throw new InvalidArgument(`incomplete string data for inference input '${name}', expecting string of length ${len} but only ${raw.byteLength - off} bytes available`);
    }
    out.push(raw.subarray(off, off + len));
    off += len;
  }
  return out;
}

/** Length-prefix BYTES elements into one raw buffer. */
export function joinBytes(elements: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const e of elements) total += 4 + e.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let off = 0;
  for (const e of elements) {
    view.setUint32(off, e.byteLength, true);
    out.set(e, off + 4);
    off += 4 + e.byteLength;
  }
  return out;
}

/**
 * Check that raw data matches the shape: exact byte size for fixed-size types,
 * exact element count for BYTES. Messages follow Triton's wording.
 */
export function checkRawSize(datatype: DataType, shape: readonly number[], raw: Uint8Array, name: string): void {
  const count = elementCount(shape);
  if (datatype === 'BYTES') {
    const n = splitBytes(raw, name).length;
    if (n !== count) {
      throw new InvalidArgument(`expected ${count} string elements for inference input '${name}', got ${n}`);
    }
    return;
  }
  const expected = count * ELEMENT_SIZE[datatype];
  if (raw.byteLength !== expected) {
    throw new InvalidArgument(`unexpected total byte size ${raw.byteLength} for input '${name}', expecting ${expected}`);
  }
}

/**
 * BYTES elements reach ONNX Runtime as JS strings (onnxruntime-node has no other
 * way in): its binding cuts each at the first NUL byte, and decoding to a string
 * replaces bytes that are not UTF-8. Neither can carry the element intact, so such
 * elements are refused, naming the input and the element, rather than changed.
 */
export function checkModelStrings(raw: Uint8Array, name: string, model: string): void {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  let off = 0;
  for (let i = 0; off + 4 <= raw.byteLength; i++) {
    const len = view.getUint32(off, true);
    off += 4;
    const end = off + len;
    if (len > 0) {
      const nul = buf.indexOf(0, off);
      if (nul >= 0 && nul < end) {
        throw new InvalidArgument(`element ${i} of BYTES input '${name}' for model '${model}' holds a NUL byte at offset ${nul - off}; ONNX Runtime string tensors end at the first NUL, so such elements are refused rather than cut`);
      }
      if (!isUtf8(raw.subarray(off, end))) {
        throw new InvalidArgument(`element ${i} of BYTES input '${name}' for model '${model}' is not valid UTF-8; ONNX Runtime string tensors hold text, so such elements are refused rather than changed`);
      }
    }
    off = end;
  }
}

function badValue(datatype: DataType, name: string, v: unknown): InvalidArgument {
  return new InvalidArgument(`unable to parse 'data': expected ${datatype} value for input '${name}', got ${typeof v === 'bigint' ? v.toString() : JSON.stringify(v) ?? typeof v}`);
}

function toBigInt(datatype: DataType, name: string, v: unknown, signed: boolean): bigint {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number' && Number.isInteger(v)) b = BigInt(v);
  else if (typeof v === 'string' && /^-?\d+$/.test(v)) b = BigInt(v);
  else throw badValue(datatype, name, v);
  const ok = signed ? b >= -(2n ** 63n) && b < 2n ** 63n : b >= 0n && b < 2n ** 64n;
  if (!ok) throw badValue(datatype, name, v);
  return b;
}

/**
 * Tensors of this size come from Node's Buffer pool. An ArrayBuffer of its own costs
 * ~0.3-1 us here (and work for the GC): a fifth of decoding a 64-float JSON request,
 * noise beside parsing the ~250 numbers of a 1 KiB one. Up to 64 bytes V8 would keep
 * the array on its heap, but a Float32Array or DataView over it makes it an
 * ArrayBuffer of its own all the same, as before: those keep one (their `.buffer` is
 * the whole tensor, as some callers expect).
 */
const POOLED_MIN_BYTES = 65;
const POOLED_MAX_BYTES = 1024;

/**
 * `n` bytes for a decoded tensor: in the range above a slice of Node's shared 8 KiB
 * pool (8-byte aligned, never handed out twice), else a buffer of its own. Not zeroed:
 * the caller writes every byte. Tensors are views anyway (binary inputs view their
 * request's body), and request tensors are never transferred to a worker.
 */
function tensorBytes(n: number): Uint8Array {
  if (n < POOLED_MIN_BYTES || n > POOLED_MAX_BYTES) return new Uint8Array(n);
  const b = Buffer.allocUnsafe(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

/** String.prototype.isWellFormed (ES2024; in Node 20 and later), which the ES2022 lib does not declare. */
type WellFormed = string & { isWellFormed(): boolean };

/** Flat JS values (from JSON or gRPC typed contents) -> raw layout. */
export function encodeValues(datatype: DataType, values: readonly unknown[], name: string): Uint8Array {
  const n = values.length;
  if (datatype === 'BYTES') {
    const parts: Uint8Array[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v === 'string') {
        // A lone surrogate (JSON's "\ud800") has no UTF-8 form: encoding would turn it into U+FFFD.
        if (!(v as WellFormed).isWellFormed()) {
          throw new InvalidArgument(`element ${i} of BYTES input '${name}' holds an unpaired UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair); it has no UTF-8 form, so it is refused rather than changed`);
        }
        parts[i] = utf8.encode(v);
      } else if (v instanceof Uint8Array) parts[i] = v;
      else throw badValue(datatype, name, v);
    }
    return joinBytes(parts);
  }
  if (datatype === 'FP16' || datatype === 'BF16') {
    throw new InvalidArgument(`datatype ${datatype} of input '${name}' is not supported in JSON; send it as binary data`);
  }
  // The common float types: one typed array written element by element (platform
  // order, little-endian on every host this server runs on, as elsewhere in the codecs).
  if (datatype === 'FP32' && LITTLE_ENDIAN) {
    const out = tensorBytes(n * 4);
    // The pool's slices are 8-byte aligned; should that ever change, a buffer of its own.
    const f = out.byteOffset % 4 === 0 ? new Float32Array(out.buffer, out.byteOffset, n) : new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v !== 'number') throw badValue(datatype, name, v);
      f[i] = v;
    }
    return f.buffer === out.buffer ? out : new Uint8Array(f.buffer);
  }
  const out = tensorBytes(n * ELEMENT_SIZE[datatype]);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const range = INT_RANGE[datatype];
  for (let i = 0; i < n; i++) {
    const v = values[i];
    switch (datatype) {
      case 'BOOL':
        if (typeof v === 'boolean') out[i] = v ? 1 : 0;
        else if (v === 0 || v === 1) out[i] = v;
        else throw badValue(datatype, name, v);
        break;
      case 'FP32': case 'FP64':
        if (typeof v !== 'number') throw badValue(datatype, name, v);
        if (datatype === 'FP32') view.setFloat32(i * 4, v, true); else view.setFloat64(i * 8, v, true);
        break;
      case 'INT64': view.setBigInt64(i * 8, toBigInt(datatype, name, v, true), true); break;
      case 'UINT64': view.setBigUint64(i * 8, toBigInt(datatype, name, v, false), true); break;
      default: {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < range![0] || v > range![1]) throw badValue(datatype, name, v);
        switch (datatype) {
          case 'INT8': view.setInt8(i, v); break;
          case 'INT16': view.setInt16(i * 2, v, true); break;
          case 'INT32': view.setInt32(i * 4, v, true); break;
          case 'UINT8': view.setUint8(i, v); break;
          case 'UINT16': view.setUint16(i * 2, v, true); break;
          case 'UINT32': view.setUint32(i * 4, v, true); break;
        }
      }
    }
  }
  return out;
}

/**
 * Raw layout -> flat JS values. INT64/UINT64 come back as numbers when exact, else
 * bigint (the JSON encoder writes them as integer literals). BYTES come back as
 * UTF-8 strings. FP16/BF16 decode to numbers (used by classification only).
 */
export function decodeValues(datatype: DataType, raw: Uint8Array, name = ''): ScalarValue[] {
  if (datatype === 'BYTES') return splitBytes(raw, name).map((e) => utf8Decoder.decode(e));
  const size = ELEMENT_SIZE[datatype];
  const n = Math.floor(raw.byteLength / size);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: ScalarValue[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * size;
    switch (datatype) {
      case 'BOOL': out[i] = raw[o] !== 0; break;
      case 'UINT8': out[i] = raw[o]!; break;
      case 'INT8': out[i] = view.getInt8(o); break;
      case 'UINT16': out[i] = view.getUint16(o, true); break;
      case 'INT16': out[i] = view.getInt16(o, true); break;
      case 'UINT32': out[i] = view.getUint32(o, true); break;
      case 'INT32': out[i] = view.getInt32(o, true); break;
      case 'FP32': out[i] = view.getFloat32(o, true); break;
      case 'FP64': out[i] = view.getFloat64(o, true); break;
      case 'INT64': { const b = view.getBigInt64(o, true); out[i] = safe(b); break; }
      case 'UINT64': { const b = view.getBigUint64(o, true); out[i] = safe(b); break; }
      case 'FP16': out[i] = fp16ToNumber(view.getUint16(o, true)); break;
      case 'BF16': { const f = new DataView(new ArrayBuffer(4)); f.setUint32(0, view.getUint16(o, true) << 16); out[i] = f.getFloat32(0); break; }
    }
  }
  return out;
}

function safe(b: bigint): number | bigint {
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

function fp16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
