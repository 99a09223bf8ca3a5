/**
 * Raw tensors and parameters -> JSON text, written by hand because JSON.stringify
 * cannot write bigint (INT64/UINT64 beyond 2^53 must stay exact) nor NaN, and the
 * response is assembled as one string without building an object tree first.
 *
 * Non-finite floats: JSON has no spelling for them. We write the bare tokens `NaN`,
 * `Infinity` and `-Infinity` (what `Array.prototype.join` prints). Python's `json`
 * and python-rapidjson (the tritonclient HTTP decoders) read these back as floats;
 * strict JSON parsers reject them, so clients that may see non-finite values should
 * ask for binary outputs. `null` would silently lose the value. Negative zero prints
 * as `0` (join's spelling); binary outputs keep every bit.
 */
import { decodeValues, splitBytes } from './raw.js';
import { type DataType, ELEMENT_SIZE, type ParamValue, type Params } from '../types/tensor.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8Decoder = new TextDecoder('utf-8');

type TypedArrayCtor =
  | Int8ArrayConstructor | Uint8ArrayConstructor | Int16ArrayConstructor | Uint16ArrayConstructor
  | Int32ArrayConstructor | Uint32ArrayConstructor | Float32ArrayConstructor | Float64ArrayConstructor
  | BigInt64ArrayConstructor | BigUint64ArrayConstructor;

const VIEW: Partial<Record<DataType, TypedArrayCtor>> = {
  INT8: Int8Array, UINT8: Uint8Array, INT16: Int16Array, UINT16: Uint16Array,
  INT32: Int32Array, UINT32: Uint32Array, FP32: Float32Array, FP64: Float64Array,
  INT64: BigInt64Array, UINT64: BigUint64Array,
};

/** A typed view of the raw bytes; copies only when the bytes are not aligned for the type. */
function typedView(ctor: TypedArrayCtor, raw: Uint8Array, size: number): ArrayLike<number | bigint> & { join(sep: string): string } {
  const n = Math.floor(raw.byteLength / size);
  if (raw.byteOffset % size === 0) return new ctor(raw.buffer as ArrayBuffer, raw.byteOffset, n);
  // Copy through the Uint8Array constructor: `raw` may be a Buffer, whose slice() does not copy.
  return new ctor(new Uint8Array(raw.subarray(0, n * size)).buffer, 0, n);
}

/**
 * Element count from which Array.from + JSON.stringify beats join (Node 20, random
 * FP32: join wins at 64 elements, 8 vs 20 us; stringify at 256, 50 vs 60-115 us).
 */
const STRINGIFY_MIN = 200;

/** The `data` array of one output as JSON text (flat, row-major, as Triton writes it). */
export function tensorDataJson(datatype: DataType, raw: Uint8Array): string {
  const ctor = VIEW[datatype];
  if (ctor !== undefined && LITTLE_ENDIAN) {
    const view = typedView(ctor, raw, ELEMENT_SIZE[datatype]);
    if (datatype === 'INT64' || datatype === 'UINT64' || view.length < STRINGIFY_MIN) return '[' + view.join(',') + ']';
    // For large tensors JSON.stringify over a plain array prints numbers ~1.5-2x faster
    // than join, but writes non-finite values as null: only a float tensor can hold
    // those, and then join spells them NaN/Infinity (see header).
    const text = JSON.stringify(Array.from(view as ArrayLike<number>));
    if ((datatype === 'FP32' || datatype === 'FP64') && text.includes('null')) return '[' + view.join(',') + ']';
    return text;
  }
  if (datatype === 'BOOL') {
    let s = '[';
    for (let i = 0; i < raw.byteLength; i++) s += (i === 0 ? '' : ',') + (raw[i] !== 0 ? 'true' : 'false');
    return s + ']';
  }
  if (datatype === 'BYTES') {
    // Elements are written as UTF-8 text; bytes that are not UTF-8 become U+FFFD, so
    // arbitrary binary strings should travel as binary outputs.
    const parts = splitBytes(raw, '');
    let s = '[';
    for (let i = 0; i < parts.length; i++) s += (i === 0 ? '' : ',') + JSON.stringify(utf8Decoder.decode(parts[i]));
    return s + ']';
  }
  // FP16/BF16 (and every type on a big-endian host): decode element by element.
  return '[' + decodeValues(datatype, raw).map(scalarJson).join(',') + ']';
}

function scalarJson(v: ParamValue): string {
  switch (typeof v) {
    case 'bigint': return v.toString();
    case 'number': return String(v); // non-finite -> NaN/Infinity tokens: see header
    case 'boolean': return v ? 'true' : 'false';
    default: return JSON.stringify(v);
  }
}

/** A parameters object as JSON text; bigint values are written as exact integers. */
export function paramsJson(params: Params): string {
  let s = '{';
  let first = true;
  for (const k in params) {
    const v = params[k];
    if (v === undefined) continue;
    s += (first ? '' : ',') + JSON.stringify(k) + ':' + scalarJson(v);
    first = false;
  }
  return s + '}';
}

export function hasKeys(o: object | undefined): boolean {
  if (o === undefined) return false;
  for (const _ in o) return true;
  return false;
}
