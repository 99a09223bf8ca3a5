/**
 * Hand-written protobuf encoder of the hot-path response messages,
 * ModelInferResponse and ModelStreamInferResponse (field numbers of
 * proto/grpc_service.proto); its twin for the request is grpc-wire-decode.ts.
 *
 * Why: protobufjs builds an op list per encode, then copies; here a response is
 * sized in one pass and written into one exactly-sized Buffer in a second (raw
 * tensor bytes are copied once, by Buffer#set). Tests check the bytes decode to the
 * same message with protobufjs (test/frontends/grpc/wire.test.ts).
 *
 * A response the encoder cannot write is the catalogue's Internal (ours, not the
 * client's).
 */
import { Internal } from '../errors/errors.js';
import type {
  InferOutputTensorMsg, InferParameterChoice, InferParameterMsg, InferParametersMsg, Int64,
  ModelInferResponseMsg, ModelStreamInferResponseMsg,
} from './grpc-messages.js';

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
