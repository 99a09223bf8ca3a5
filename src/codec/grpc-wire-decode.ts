/**
 * Hand-written protobuf decoder of the hot-path request message, ModelInferRequest
 * (field numbers of proto/grpc_service.proto); its twin for the responses is
 * grpc-wire-encode.ts. Every other message goes through @grpc/proto-loader.
 *
 * Why: protobufjs builds two object graphs per decode (message instances, then
 * plain objects); here a request becomes the plain object in one pass, with `bytes`
 * as views into the received buffer. The object has the shape of grpc-messages.ts,
 * i.e. what proto-loader produces with GRPC_LOADER_OPTIONS, except that 64-bit
 * integers come back as numbers when exact (decimal strings otherwise). Tests check
 * both codecs agree (test/frontends/grpc/wire.test.ts).
 *
 * A malformed request is the catalogue's InvalidArgument. grpc-js answers anything a
 * deserializer throws with INTERNAL 'Error deserializing request' and, on a stream,
 * ends the whole stream; so the server registers `deserializeInferRequest`, which
 * never throws: it hands the handler a MalformedInferRequest, and the handler's one
 * decode step (decodeInferRequest) throws its error. ModelInfer then answers it as a
 * status and ModelStreamInfer in-band, keeping the stream open, like any other bad
 * request.
 */
import { InvalidArgument } from '../errors/errors.js';
import { strictUtf8 } from './utf8.js';
import type {
  InferInputTensorMsg, InferParameterMsg, InferParametersMsg,
  InferRequestedOutputTensorMsg, InferTensorContentsMsg, Int64, ModelInferRequestMsg,
} from './grpc-messages.js';

// Wire types.
const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const START_GROUP = 3;
const END_GROUP = 4;
const FIXED32 = 5;

const TWO_32 = 4294967296;

/**
 * Cursor over one message. The module-level `lo`/`hi` receive the halves of the
 * last 64-bit varint read (avoids allocating a pair per value).
 */
interface Cursor { buf: Buffer; pos: number }
let lo = 0;
let hi = 0;

function malformed(what: string): InvalidArgument {
  return new InvalidArgument(`malformed ModelInferRequest: ${what}`);
}

/** A varint that fits in 32 bits (tags, lengths); the high bits of longer ones are dropped. */
function readVarint32(c: Cursor, end: number): number {
  const buf = c.buf;
  let pos = c.pos;
  let result = 0;
  let shift = 0;
  for (;;) {
    if (pos >= end) throw malformed('truncated varint');
    const b = buf[pos++]!;
    if (shift < 28) result |= (b & 0x7f) << shift;
    else if (shift === 28) result |= (b & 0x0f) << 28;
    if (b < 0x80) break;
    shift += 7;
    if (shift > 63) throw malformed('varint too long');
  }
  c.pos = pos;
  return result >>> 0;
}

/** A full 64-bit varint into `lo`/`hi` (unsigned halves). */
function readVarint64(c: Cursor, end: number): void {
  const buf = c.buf;
  let pos = c.pos;
  let l = 0;
  let h = 0;
  let shift = 0;
  for (;;) {
    if (pos >= end) throw malformed('truncated varint');
    const b = buf[pos++]!;
    const bits = b & 0x7f;
    if (shift < 28) {
      l |= bits << shift;
    } else if (shift === 28) {
      l |= (bits & 0x0f) << 28;
      h |= bits >>> 4;
    } else if (shift < 64) {
      h |= bits << (shift - 32);
    }
    if (b < 0x80) break;
    shift += 7;
    if (shift > 63) throw malformed('varint too long');
  }
  c.pos = pos;
  lo = l >>> 0;
  hi = h >>> 0;
}

function u64Value(): Int64 {
  if (hi < 0x200000) return hi * TWO_32 + lo;
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

function i64Value(): Int64 {
  if (hi < 0x80000000) return u64Value();
  const v = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
  return v >= -9007199254740991n ? Number(v) : v.toString();
}

function readLength(c: Cursor, end: number): number {
  const len = readVarint32(c, end);
  if (c.pos + len > end) throw malformed('length past the end');
  return len;
}

/** Strings up to this length are decoded in JavaScript; the last ASCII one of each length is kept. */
const SHORT = 24;
const recentAscii: (string | undefined)[] = new Array<string | undefined>(SHORT + 1).fill(undefined);

function readString(c: Cursor, end: number): string {
  const len = readLength(c, end);
  const start = c.pos;
  const stop = start + len;
  c.pos = stop;
  if (len === 0) return '';
  const buf = c.buf;
  // Short ASCII strings dominate (names, datatypes, versions); skip the native call for
  // them, and hand back the last one of the same length when the bytes are its own:
  // the same model, input and datatype names come in every request, and a string
  // built per request is garbage the collector pays for.
  if (len <= SHORT) {
    const known = recentAscii[len];
    if (known !== undefined) {
      let i = 0;
      while (i < len && known.charCodeAt(i) === buf[start + i]) i++;
      if (i === len) return known;
    }
    let s = '';
    for (let i = start; i < stop; i++) {
      const b = buf[i]!;
      if (b >= 0x80) return utf8String(buf, start, stop);
      s += String.fromCharCode(b);
    }
    recentAscii[len] = s;
    return s;
  }
  return utf8String(buf, start, stop);
}

/** A proto3 `string` must be UTF-8 (protobuf refuses the message otherwise; see ./utf8.ts). */
function utf8String(buf: Buffer, start: number, stop: number): string {
  const s = strictUtf8(buf, start, stop);
  if (s === undefined) {
    throw malformed(`a string field holds bytes that are not UTF-8 (at byte ${start}); proto3 strings are UTF-8 (use a bytes field for raw bytes)`);
  }
  return s;
}

function readBytes(c: Cursor, end: number): Buffer {
  const len = readLength(c, end);
  const start = c.pos;
  c.pos = start + len;
  return c.buf.subarray(start, start + len);
}

function skipField(c: Cursor, end: number, wireType: number): void {
  switch (wireType) {
    case VARINT: readVarint64(c, end); return;
    case FIXED64: c.pos += 8; break;
    case LEN: { const len = readLength(c, end); c.pos += len; return; }
    case FIXED32: c.pos += 4; break;
    case START_GROUP:
      for (;;) {
        const tag = readVarint32(c, end);
        const wt = tag & 7;
        if (wt === END_GROUP) return;
        skipField(c, end, wt);
      }
    default: throw malformed(`wire type ${wireType}`);
  }
  if (c.pos > end) throw malformed('fixed field past the end');
}

function readInferParameter(c: Cursor, end: number): InferParameterMsg {
  let p: InferParameterMsg = {};
  while (c.pos < end) {
    const tag = readVarint32(c, end);
    const field = tag >>> 3;
    const wt = tag & 7;
    // A oneof keeps the last member seen.
    if (field === 1 && wt === VARINT) {
      readVarint64(c, end);
      p = { bool_param: (lo | hi) !== 0, parameter_choice: 'bool_param' };
    } else if (field === 2 && wt === VARINT) {
      readVarint64(c, end);
      p = { int64_param: i64Value(), parameter_choice: 'int64_param' };
    } else if (field === 3 && wt === LEN) {
      p = { string_param: readString(c, end), parameter_choice: 'string_param' };
    } else if (field === 4 && wt === FIXED64) {
      if (c.pos + 8 > end) throw malformed('truncated double');
      p = { double_param: c.buf.readDoubleLE(c.pos), parameter_choice: 'double_param' };
      c.pos += 8;
    } else if (field === 5 && wt === VARINT) {
      readVarint64(c, end);
      p = { uint64_param: u64Value(), parameter_choice: 'uint64_param' };
    } else {
      skipField(c, end, wt);
    }
  }
  return p;
}

/** One map<string, InferParameter> entry into `into`. */
function readParameterEntry(c: Cursor, end: number, into: InferParametersMsg): void {
  let key = '';
  let value: InferParameterMsg = {};
  while (c.pos < end) {
    const tag = readVarint32(c, end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === LEN) {
      key = readString(c, end);
    } else if (field === 2 && wt === LEN) {
      const len = readLength(c, end);
      const stop = c.pos + len;
      value = readInferParameter(c, stop);
    } else {
      skipField(c, end, wt);
    }
  }
  setEntry(into, key, value);
}

/** Map keys are client-chosen: `__proto__` must become an own property, not a prototype. */
function setEntry<T>(into: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    into[key] = value;
  }
}

/** Repeated scalar, packed (LEN) or not: calls `one` per element. */
function readRepeated(c: Cursor, end: number, wt: number, elemWireType: number, one: (c: Cursor, end: number) => void): void {
  if (wt === LEN) {
    const len = readLength(c, end);
    const stop = c.pos + len;
    while (c.pos < stop) one(c, stop);
  } else if (wt === elemWireType) {
    one(c, end);
  } else {
    skipField(c, end, wt);
  }
}

function emptyContents(): InferTensorContentsMsg {
  return {
    bool_contents: [], int_contents: [], int64_contents: [], uint_contents: [],
    uint64_contents: [], fp32_contents: [], fp64_contents: [], bytes_contents: [],
  };
}

function readContents(c: Cursor, end: number, into: InferTensorContentsMsg): void {
  while (c.pos < end) {
    const tag = readVarint32(c, end);
    const field = tag >>> 3;
    const wt = tag & 7;
    switch (field) {
      case 1: readRepeated(c, end, wt, VARINT, (cc, e) => { readVarint64(cc, e); into.bool_contents.push((lo | hi) !== 0); }); break;
      case 2: readRepeated(c, end, wt, VARINT, (cc, e) => { readVarint64(cc, e); into.int_contents.push(lo | 0); }); break;
      case 3: readRepeated(c, end, wt, VARINT, (cc, e) => { readVarint64(cc, e); into.int64_contents.push(i64Value()); }); break;
      case 4: readRepeated(c, end, wt, VARINT, (cc, e) => { readVarint64(cc, e); into.uint_contents.push(lo); }); break;
      case 5: readRepeated(c, end, wt, VARINT, (cc, e) => { readVarint64(cc, e); into.uint64_contents.push(u64Value()); }); break;
      case 6: readRepeated(c, end, wt, FIXED32, (cc, e) => {
        if (cc.pos + 4 > e) throw malformed('truncated float');
        into.fp32_contents.push(cc.buf.readFloatLE(cc.pos));
        cc.pos += 4;
      }); break;
      case 7: readRepeated(c, end, wt, FIXED64, (cc, e) => {
        if (cc.pos + 8 > e) throw malformed('truncated double');
        into.fp64_contents.push(cc.buf.readDoubleLE(cc.pos));
        cc.pos += 8;
      }); break;
      case 8:
        if (wt === LEN) into.bytes_contents.push(readBytes(c, end));
        else skipField(c, end, wt);
        break;
      default: skipField(c, end, wt);
    }
  }
}

function pushShapeDim(c: Cursor, end: number, shape: Int64[]): void {
  readVarint64(c, end);
  shape.push(i64Value());
}

function readInputTensor(c: Cursor, end: number): InferInputTensorMsg {
  const t: InferInputTensorMsg = { name: '', datatype: '', shape: [], parameters: {}, contents: null };
  while (c.pos < end) {
    const tag = readVarint32(c, end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === LEN) t.name = readString(c, end);
    else if (field === 2 && wt === LEN) t.datatype = readString(c, end);
    else if (field === 3) {
      if (wt === LEN) {
        const len = readLength(c, end);
        const stop = c.pos + len;
        while (c.pos < stop) pushShapeDim(c, stop, t.shape);
      } else if (wt === VARINT) {
        pushShapeDim(c, end, t.shape);
      } else {
        skipField(c, end, wt);
      }
    } else if (field === 4 && wt === LEN) {
      const len = readLength(c, end);
      readParameterEntry(c, c.pos + len, t.parameters);
    } else if (field === 5 && wt === LEN) {
      const len = readLength(c, end);
      // Repeated occurrences of a message field merge, as protobuf specifies.
      const contents = (t.contents as InferTensorContentsMsg | null) ?? emptyContents();
      readContents(c, c.pos + len, contents);
      t.contents = contents;
    } else {
      skipField(c, end, wt);
    }
  }
  return t;
}

function readRequestedOutput(c: Cursor, end: number): InferRequestedOutputTensorMsg {
  const o: InferRequestedOutputTensorMsg = { name: '', parameters: {} };
  while (c.pos < end) {
    const tag = readVarint32(c, end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === LEN) o.name = readString(c, end);
    else if (field === 2 && wt === LEN) {
      const len = readLength(c, end);
      readParameterEntry(c, c.pos + len, o.parameters);
    } else {
      skipField(c, end, wt);
    }
  }
  return o;
}

/**
 * A ModelInferRequest that could not be decoded, with why (`error`: the catalogue's
 * InvalidArgument; anything else would be a decoder bug, answered INTERNAL and
 * logged). It reaches the handler instead of failing inside grpc-js; the handler's
 * decodeInferRequest throws `error`.
 */
export class MalformedInferRequest implements ModelInferRequestMsg {
  readonly model_name = '';
  readonly model_version = '';
  readonly id = '';
  readonly parameters = {};
  readonly inputs = [];
  readonly outputs = [];
  readonly raw_input_contents = [];
  constructor(readonly error: unknown) {}
}

/**
 * The server's deserializer of ModelInfer and ModelStreamInfer requests: never
 * throws; bytes that do not decode become a MalformedInferRequest.
 */
export function deserializeInferRequest(buf: Buffer): ModelInferRequestMsg {
  try {
    return decodeModelInferRequest(buf);
  } catch (err) {
    return new MalformedInferRequest(err);
  }
}

/**
 * ModelInferRequest bytes -> message object. `raw_input_contents` and BYTES
 * elements are views into `buf`: they stay valid as long as the request lives.
 * Throws InvalidArgument on malformed input.
 */
export function decodeModelInferRequest(buf: Buffer): ModelInferRequestMsg {
  const msg: ModelInferRequestMsg = {
    model_name: '', model_version: '', id: '', parameters: {}, inputs: [], outputs: [], raw_input_contents: [],
  };
  const c: Cursor = { buf, pos: 0 };
  const end = buf.length;
  while (c.pos < end) {
    const tag = readVarint32(c, end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (wt !== LEN) {
      skipField(c, end, wt);
      continue;
    }
    switch (field) {
      case 1: msg.model_name = readString(c, end); break;
      case 2: msg.model_version = readString(c, end); break;
      case 3: msg.id = readString(c, end); break;
      case 4: { const len = readLength(c, end); readParameterEntry(c, c.pos + len, msg.parameters); break; }
      case 5: { const len = readLength(c, end); msg.inputs.push(readInputTensor(c, c.pos + len)); break; }
      case 6: { const len = readLength(c, end); msg.outputs.push(readRequestedOutput(c, c.pos + len)); break; }
      case 7: msg.raw_input_contents.push(readBytes(c, end)); break;
      default: skipField(c, end, wt);
    }
  }
  return msg;
}
