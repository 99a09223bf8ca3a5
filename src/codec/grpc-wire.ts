/**
 * Hand-written protobuf wire codec for the hot-path messages: ModelInferRequest
 * (decode) and ModelInferResponse / ModelStreamInferResponse (encode). Every other
 * message goes through @grpc/proto-loader.
 *
 * Why: protobufjs builds two object graphs per decode (message instances, then
 * plain objects) and an op list per encode, then copies; here a request becomes
 * the plain object in one pass, with `bytes` as views into the received buffer,
 * and a response is written into one exactly-sized Buffer (raw tensor bytes are
 * copied once, by Buffer#set). The objects have the shapes of grpc-messages.ts,
 * i.e. what proto-loader produces with GRPC_LOADER_OPTIONS, except that 64-bit
 * integers come back as numbers when exact (decimal strings otherwise). Tests
 * check both codecs agree (test/frontends/grpc/wire.test.ts).
 *
 * Field numbers are those of proto/grpc_service.proto.
 *
 * Failures are catalogue errors: a malformed request is InvalidArgument (the
 * client's), a response the encoder cannot write is Internal (ours). grpc-js
 * answers anything a deserializer throws with INTERNAL 'Error deserializing
 * request', so the server registers `decodeOrMalformed`, which hands the handler a
 * MalformedInferRequest to answer INVALID_ARGUMENT with the reason.
 */
import { Internal, InvalidArgument } from '../errors/errors.js';
import type {
  InferInputTensorMsg, InferOutputTensorMsg, InferParameterChoice, InferParameterMsg, InferParametersMsg,
  InferRequestedOutputTensorMsg, InferTensorContentsMsg, Int64, ModelInferRequestMsg,
  ModelInferResponseMsg, ModelStreamInferResponseMsg,
} from './grpc-messages.js';

// Wire types.
const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const START_GROUP = 3;
const END_GROUP = 4;
const FIXED32 = 5;

const TWO_32 = 4294967296;

// ======================================================================
// decoding
// ======================================================================

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

function readString(c: Cursor, end: number): string {
  const len = readLength(c, end);
  const start = c.pos;
  const stop = start + len;
  c.pos = stop;
  if (len === 0) return '';
  const buf = c.buf;
  // Short ASCII strings dominate (names, datatypes, versions); skip the native call for them.
  if (len <= 24) {
    let s = '';
    for (let i = start; i < stop; i++) {
      const b = buf[i]!;
      if (b >= 0x80) return buf.toString('utf8', start, stop);
      s += String.fromCharCode(b);
    }
    return s;
  }
  return buf.toString('utf8', start, stop);
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
 * ModelInferRequest bytes -> message object. `raw_input_contents` and BYTES
 * elements are views into `buf`: they stay valid as long as the request lives.
 * Throws on malformed input (grpc-js answers INTERNAL "Error deserializing request").
 */
/**
 * A ModelInferRequest that could not be decoded: it reaches the handler (whose
 * decodeInferRequest throws `error`) instead of failing inside grpc-js as INTERNAL.
 * In a stream the other messages are served; this one gets its in-band error.
 */
export class MalformedInferRequest implements ModelInferRequestMsg {
  readonly model_name = '';
  readonly model_version = '';
  readonly id = '';
  readonly parameters = {};
  readonly inputs = [];
  readonly outputs = [];
  readonly raw_input_contents = [];
  constructor(readonly error: InvalidArgument) {}
}

/** The server's request deserializer: decodeModelInferRequest, with a malformed message handed on as MalformedInferRequest. */
export function decodeOrMalformed(buf: Buffer): ModelInferRequestMsg {
  try {
    return decodeModelInferRequest(buf);
  } catch (err) {
    if (err instanceof InvalidArgument) return new MalformedInferRequest(err);
    throw err;
  }
}

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

// ======================================================================
// encoding
// ======================================================================

/** Unsigned 64-bit value of an int64/uint64 field: a non-negative safe number, or a bigint. */
function u64Of(v: Int64 | bigint): number | bigint {
  if (typeof v === 'number') {
    if (v >= 0 && v <= Number.MAX_SAFE_INTEGER) return Math.trunc(v);
    return BigInt.asUintN(64, BigInt(Math.trunc(v)));
  }
  const b = BigInt.asUintN(64, BigInt(v));
  return b <= 9007199254740991n ? Number(b) : b;
}

function varintSize(v: number | bigint): number {
  if (typeof v === 'bigint') {
    let n = 1;
    while (v > 0x7fn) { v >>= 7n; n++; }
    return n;
  }
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 4;
  v = Math.floor(v / 0x10000000);
  while (v > 0) { v = Math.floor(v / 128); n++; }
  return n;
}

function writeVarint(buf: Buffer, pos: number, v: number | bigint): number {
  if (typeof v === 'bigint') {
    while (v > 0x7fn) {
      buf[pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    buf[pos++] = Number(v);
    return pos;
  }
  while (v >= 0x80) {
    // `v % 128` stays exact above 2^32, where bitwise operators would not.
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/** Length-delimited field: tag + length prefix + payload size. */
function lenFieldSize(payload: number): number {
  return 1 + varintSize(payload) + payload;
}

function writeTagLen(buf: Buffer, pos: number, tag: number, len: number): number {
  buf[pos++] = tag;
  return writeVarint(buf, pos, len);
}

function writeString(buf: Buffer, pos: number, tag: number, s: string, byteLen: number): number {
  pos = writeTagLen(buf, pos, tag, byteLen);
  const n = s.length;
  if (byteLen === n && n <= 64) {
    // ASCII (byte length = UTF-16 length only then): copy char codes, no native call.
    for (let i = 0; i < n; i++) buf[pos + i] = s.charCodeAt(i);
  } else if (byteLen > 0) {
    buf.write(s, pos, byteLen, 'utf8');
  }
  return pos + byteLen;
}

function strLen(s: string): number {
  // Short ASCII strings dominate (names, datatypes); avoid the native call for them.
  const n = s.length;
  if (n < 64) {
    let ascii = true;
    for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) { ascii = false; break; }
    if (ascii) return n;
  }
  return Buffer.byteLength(s, 'utf8');
}

// ---- InferParameter ----

/** The oneof member to write: the named case, else the first member present. */
function choiceOf(p: InferParameterMsg): InferParameterChoice | undefined {
  if (p.parameter_choice !== undefined) return p.parameter_choice;
  if (p.bool_param !== undefined) return 'bool_param';
  if (p.int64_param !== undefined) return 'int64_param';
  if (p.string_param !== undefined) return 'string_param';
  if (p.double_param !== undefined) return 'double_param';
  if (p.uint64_param !== undefined) return 'uint64_param';
  return undefined;
}

/** Encoded size of an InferParameter message (not the field around it). */
function parameterSize(p: InferParameterMsg): number {
  switch (choiceOf(p)) {
    case 'bool_param': return 2;
    case 'int64_param': return 1 + varintSize(u64Of(p.int64_param ?? 0));
    case 'string_param': return lenFieldSize(strLen(p.string_param ?? ''));
    case 'double_param': return 9;
    case 'uint64_param': return 1 + varintSize(u64Of(p.uint64_param ?? 0));
    default: return 0;
  }
}

function writeParameter(buf: Buffer, pos: number, p: InferParameterMsg): number {
  switch (choiceOf(p)) {
    case 'bool_param':
      buf[pos++] = 0x08;
      buf[pos++] = p.bool_param ? 1 : 0;
      break;
    case 'int64_param':
      buf[pos++] = 0x10;
      pos = writeVarint(buf, pos, u64Of(p.int64_param ?? 0));
      break;
    case 'string_param': {
      const s = p.string_param ?? '';
      pos = writeString(buf, pos, 0x1a, s, strLen(s));
      break;
    }
    case 'double_param':
      buf[pos++] = 0x21;
      buf.writeDoubleLE(p.double_param ?? 0, pos);
      pos += 8;
      break;
    case 'uint64_param':
      buf[pos++] = 0x28;
      pos = writeVarint(buf, pos, u64Of(p.uint64_param ?? 0));
      break;
    default:
  }
  return pos;
}

/** Size of a map<string, InferParameter> field with tag `tag` (all entries). */
function parametersSize(params: InferParametersMsg | undefined): number {
  if (params === undefined) return 0;
  let size = 0;
  for (const key in params) {
    const entry = lenFieldSize(strLen(key)) + lenFieldSize(parameterSize(params[key]!));
    size += lenFieldSize(entry);
  }
  return size;
}

function writeParameters(buf: Buffer, pos: number, tag: number, params: InferParametersMsg | undefined): number {
  if (params === undefined) return pos;
  for (const key in params) {
    const p = params[key]!;
    const keyLen = strLen(key);
    const pSize = parameterSize(p);
    pos = writeTagLen(buf, pos, tag, lenFieldSize(keyLen) + lenFieldSize(pSize));
    pos = writeString(buf, pos, 0x0a, key, keyLen);
    pos = writeTagLen(buf, pos, 0x12, pSize);
    pos = writeParameter(buf, pos, p);
  }
  return pos;
}

// ---- ModelInferResponse ----

/** Sizes computed in the first pass and reused by the second. */
interface OutputPlan {
  nameLen: number;
  datatypeLen: number;
  shape: Array<number | bigint>;
  shapeLen: number;
  size: number;
}

interface ResponsePlan {
  nameLen: number;
  versionLen: number;
  idLen: number;
  outputs: OutputPlan[];
  size: number;
}

function planResponse(msg: ModelInferResponseMsg): ResponsePlan {
  const nameLen = strLen(msg.model_name);
  const versionLen = strLen(msg.model_version);
  const idLen = strLen(msg.id);
  let size = 0;
  if (nameLen > 0) size += lenFieldSize(nameLen);
  if (versionLen > 0) size += lenFieldSize(versionLen);
  if (idLen > 0) size += lenFieldSize(idLen);
  size += parametersSize(msg.parameters);
  const outputs = new Array<OutputPlan>(msg.outputs.length);
  for (let i = 0; i < msg.outputs.length; i++) {
    const o = msg.outputs[i]!;
    if (o.contents != null) throw new Internal('grpc-wire: typed output contents are not supported; send outputs raw');
    const oNameLen = strLen(o.name);
    const datatypeLen = strLen(o.datatype);
    const shape = o.shape.map(u64Of);
    let shapeLen = 0;
    for (const d of shape) shapeLen += varintSize(d);
    let oSize = 0;
    if (oNameLen > 0) oSize += lenFieldSize(oNameLen);
    if (datatypeLen > 0) oSize += lenFieldSize(datatypeLen);
    if (shapeLen > 0) oSize += lenFieldSize(shapeLen);
    oSize += parametersSize(o.parameters);
    outputs[i] = { nameLen: oNameLen, datatypeLen, shape, shapeLen, size: oSize };
    size += lenFieldSize(oSize);
  }
  // Every raw entry is written, empty ones included: clients pair them by position.
  for (const raw of msg.raw_output_contents) size += lenFieldSize(raw.byteLength);
  return { nameLen, versionLen, idLen, outputs, size };
}

function writeResponse(buf: Buffer, pos: number, msg: ModelInferResponseMsg, plan: ResponsePlan): number {
  if (plan.nameLen > 0) pos = writeString(buf, pos, 0x0a, msg.model_name, plan.nameLen);
  if (plan.versionLen > 0) pos = writeString(buf, pos, 0x12, msg.model_version, plan.versionLen);
  if (plan.idLen > 0) pos = writeString(buf, pos, 0x1a, msg.id, plan.idLen);
  pos = writeParameters(buf, pos, 0x22, msg.parameters);
  for (let i = 0; i < plan.outputs.length; i++) {
    const o: InferOutputTensorMsg = msg.outputs[i]!;
    const p = plan.outputs[i]!;
    pos = writeTagLen(buf, pos, 0x2a, p.size);
    if (p.nameLen > 0) pos = writeString(buf, pos, 0x0a, o.name, p.nameLen);
    if (p.datatypeLen > 0) pos = writeString(buf, pos, 0x12, o.datatype, p.datatypeLen);
    if (p.shapeLen > 0) {
      pos = writeTagLen(buf, pos, 0x1a, p.shapeLen);
      for (const d of p.shape) pos = writeVarint(buf, pos, d);
    }
    pos = writeParameters(buf, pos, 0x22, o.parameters);
  }
  for (const raw of msg.raw_output_contents) {
    const n = raw.byteLength;
    pos = writeTagLen(buf, pos, 0x32, n);
    if (n <= 64) {
      for (let i = 0; i < n; i++) buf[pos + i] = raw[i]!;
    } else {
      buf.set(raw, pos);
    }
    pos += n;
  }
  return pos;
}

/** ModelInferResponse message -> bytes, in one exactly-sized Buffer. */
export function encodeModelInferResponse(msg: ModelInferResponseMsg): Buffer {
  const plan = planResponse(msg);
  const buf = Buffer.allocUnsafe(plan.size);
  const end = writeResponse(buf, 0, msg, plan);
  if (end !== plan.size) throw new Internal(`grpc-wire: wrote ${end} bytes, planned ${plan.size}`);
  return buf;
}

/** ModelStreamInferResponse message -> bytes. */
export function encodeModelStreamInferResponse(msg: ModelStreamInferResponseMsg): Buffer {
  const errLen = strLen(msg.error_message);
  const plan = msg.infer_response != null ? planResponse(msg.infer_response) : undefined;
  let size = errLen > 0 ? lenFieldSize(errLen) : 0;
  if (plan !== undefined) size += lenFieldSize(plan.size);
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (errLen > 0) pos = writeString(buf, pos, 0x0a, msg.error_message, errLen);
  if (plan !== undefined) {
    pos = writeTagLen(buf, pos, 0x12, plan.size);
    pos = writeResponse(buf, pos, msg.infer_response!, plan);
  }
  if (pos !== size) throw new Internal(`grpc-wire: wrote ${pos} bytes, planned ${size}`);
  return buf;
}
