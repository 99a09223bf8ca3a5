/**
 * gRPC ModelInferRequest/ModelInferResponse (proto-loader object form, see
 * grpc-messages.ts) <-> InferenceRequest/InferenceResponse.
 *
 * Raw contents pass through untouched: an input's `data` is a view into the
 * received message and an output's `data` goes into the response message as is,
 * so the hot path (the Python client always sends raw) copies nothing here.
 * Error texts follow Triton's gRPC front end, which clients and tests match, or
 * the HTTP front end's (json-request.ts) where both protocols share the case.
 */
import { InvalidArgument } from '../errors/errors.js';
import type { CancelSignal } from '../types/cancel.js';
import type {
  InferenceRequest, InferenceResponse, RequestedOutput,
} from '../types/inference.js';
import {
  DATATYPES, type DataType, type ParamValue, type Params, type ShmRef, type Tensor, isDataType,
} from '../types/tensor.js';
import type {
  InferInputTensorMsg, InferOutputTensorMsg, InferParameterMsg, InferParametersMsg,
  InferTensorContentsMsg, Int64, ModelInferRequestMsg, ModelInferResponseMsg,
} from './grpc-messages.js';
import { MalformedInferRequest } from './grpc-wire-decode.js';
import { checkVersion } from './version.js';
import { takeSharedMemory } from './json-params.js';
import { joinBytes } from './raw.js';
import { GRPC_EMPTY_FINAL_RESPONSE } from './reserved-params.js';

const EMPTY_PARAMS: Params = Object.freeze({}) as Params;
const EMPTY_BYTES = new Uint8Array(0);

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A decoded 64-bit value: a number when exact, else a bigint. */
function int64Value(v: Int64): number | bigint {
  if (typeof v === 'number') return v;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : BigInt(v);
}

/** Triton's rule for model versions given as strings (codec/version.ts), in tritonserver's words. */
export function checkModelVersion(version: string): string {
  return checkVersion(version, 'grpc');
}

/** One InferParameter -> a JS value; undefined when no member is set. */
export function decodeInferParameter(p: InferParameterMsg): ParamValue | undefined {
  switch (p.parameter_choice) {
    case 'bool_param': return p.bool_param === true;
    case 'int64_param': return int64Value(p.int64_param ?? 0);
    case 'uint64_param': return int64Value(p.uint64_param ?? 0);
    case 'double_param': return p.double_param ?? 0;
    case 'string_param': return p.string_param ?? '';
    default: return undefined;
  }
}

/**
 * Triton's gRPC front end takes the sequence id only as int64_param or string_param,
 * the flags only as bool_param, the priority as a non-negative int64_param or a
 * uint64_param and the timeout as int64_param; the decoded value alone cannot tell
 * (an integral double_param decodes like an int64_param), so check the wire member
 * here, with Triton's texts.
 */
function checkReservedParamTypes(msg: InferParametersMsg): void {
  const id = msg.sequence_id?.parameter_choice;
  if (id !== undefined && id !== 'int64_param' && id !== 'string_param') {
    throw new InvalidArgument("invalid value type for 'sequence_id' parameter, expected int64_param or string_param.");
  }
  for (const key of ['sequence_start', 'sequence_end'] as const) {
    const c = msg[key]?.parameter_choice;
    if (c !== undefined && c !== 'bool_param') {
      throw new InvalidArgument(`invalid value type for '${key}' parameter, expected bool_param.`);
    }
  }
  const priority = msg.priority;
  if (priority !== undefined) {
    const c = priority.parameter_choice;
    if (c !== 'int64_param' && c !== 'uint64_param') {
      throw new InvalidArgument("invalid value type for 'priority' parameter, expected int64_param or uint64_param.");
    }
    const v = priority.int64_param;
    if (c === 'int64_param' && (typeof v === 'number' ? v < 0 : v !== undefined && v.startsWith('-'))) {
      throw new InvalidArgument("invalid value for 'priority', expected value >= 0.");
    }
  }
  const timeout = msg.timeout?.parameter_choice;
  if (timeout !== undefined && timeout !== 'int64_param') {
    throw new InvalidArgument("invalid value type for 'timeout' parameter, expected int64_param.");
  }
}

/** `owner` names the tensor for messages ("input 'x'"); '' for the request. */
function decodeParams(msg: InferParametersMsg | undefined, owner: string): Params {
  if (msg === undefined) return EMPTY_PARAMS;
  const keys = Object.keys(msg);
  if (keys.length === 0) return EMPTY_PARAMS;
  const out: Params = {};
  for (const key of keys) {
    const v = decodeInferParameter(msg[key]!);
    if (v === undefined) {
      const where = owner === '' ? '' : ` of ${owner}`;
      throw new InvalidArgument(`invalid value type for '${key}' parameter${where}, expected bool_param, int64_param, string_param, double_param or uint64_param.`);
    }
    // Keys are client-chosen: keep `__proto__` an own property.
    if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    else out[key] = v;
  }
  return out;
}

/**
 * Request-level parameters; the `triton_` prefix is reserved (same message as the
 * HTTP front end, json-request.ts), except the one key gRPC consumes (a bool;
 * ModelStreamInfer's empty final response is not implemented, so its value changes
 * nothing here).
 */
export function decodeRequestParams(msg: InferParametersMsg | undefined): Params {
  if (msg !== undefined) checkReservedParamTypes(msg);
  let params = decodeParams(msg, '');
  const empty = params[GRPC_EMPTY_FINAL_RESPONSE];
  if (empty !== undefined) {
    if (typeof empty !== 'boolean') {
      throw new InvalidArgument(`invalid value type for '${GRPC_EMPTY_FINAL_RESPONSE}' parameter, expected bool_param.`);
    }
    params = { ...params };
    delete params[GRPC_EMPTY_FINAL_RESPONSE];
  }
  // Other triton_ keys are refused once, by request/prepare.ts (as every input's byte size is checked there).
  return params;
}

/** Tensor-level parameters, with the shared-memory ones taken out into `shm`. */
function decodeTensorParams(msg: InferParametersMsg, kind: 'input' | 'output', name: string): { params: Params; shm?: ShmRef } {
  if (Object.keys(msg).length === 0) return { params: EMPTY_PARAMS };
  const owner = `${kind} '${name}'`;
  const params = decodeParams(msg, owner);
  const shm = takeSharedMemory(params, owner);
  if (shm === undefined) return { params };
  return { params: Object.keys(params).length === 0 ? EMPTY_PARAMS : params, shm };
}

/** A JS parameter value -> InferParameter (bigint and integers go as int64/uint64). */
export function encodeInferParameter(v: ParamValue): InferParameterMsg {
  switch (typeof v) {
    case 'boolean': return { bool_param: v };
    case 'string': return { string_param: v };
    case 'bigint':
      return v > INT64_MAX || v < INT64_MIN
        ? { uint64_param: v.toString() }
        : { int64_param: v.toString() };
    default:
      return Number.isInteger(v) ? { int64_param: v } : { double_param: v };
  }
}

export function encodeParams(params: Params | undefined): InferParametersMsg {
  const out: InferParametersMsg = {};
  if (params === undefined) return out;
  for (const key in params) out[key] = encodeInferParameter(params[key]!);
  return out;
}

/** Messages below match the HTTP front end's (json-request.ts) where the case is shared. */
function decodeShape(dims: readonly Int64[], name: string): number[] {
  const n = dims.length;
  const shape = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const d = Number(dims[i]);
    if (!(d >= 0) || !Number.isSafeInteger(d)) {
      throw new InvalidArgument(`'shape' of input '${name}' must hold non-negative integers, got ${String(dims[i])}`);
    }
    shape[i] = d;
  }
  return shape;
}

// ---- typed contents ----

type ContentsField = keyof InferTensorContentsMsg;

/** Typed-contents fields in the order Triton inspects them. */
const CONTENTS_FIELDS: readonly ContentsField[] = [
  'bool_contents', 'int_contents', 'int64_contents', 'uint_contents', 'uint64_contents',
  'fp32_contents', 'fp64_contents', 'bytes_contents',
];

/** The datatype a contents field carries; int/uint fields take the narrow type asked for. */
function fieldType(field: ContentsField, datatype: string): string {
  switch (field) {
    case 'bool_contents': return 'BOOL';
    case 'int_contents': return datatype === 'INT8' || datatype === 'INT16' ? datatype : 'INT32';
    case 'int64_contents': return 'INT64';
    case 'uint_contents': return datatype === 'UINT8' || datatype === 'UINT16' ? datatype : 'UINT32';
    case 'uint64_contents': return 'UINT64';
    case 'fp32_contents': return 'FP32';
    case 'fp64_contents': return 'FP64';
    case 'bytes_contents': return 'BYTES';
  }
}

function bytesOf(arr: ArrayBufferView): Uint8Array {
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

/**
 * Typed array constructors below write in platform byte order; every platform
 * Node supports for this server is little-endian, which is the raw layout.
 */
function encodeContents(datatype: DataType, field: ContentsField, values: readonly unknown[]): Uint8Array {
  const n = values.length;
  switch (datatype) {
    case 'BOOL': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = values[i] ? 1 : 0;
      return out;
    }
    // Narrow integer types keep the low bytes of each 32-bit element, as Triton does.
    case 'INT8': return bytesOf(Int8Array.from(values as number[]));
    case 'INT16': return bytesOf(Int16Array.from(values as number[]));
    case 'INT32': return bytesOf(Int32Array.from(values as number[]));
    case 'UINT8': return Uint8Array.from(values as number[]);
    case 'UINT16': return bytesOf(Uint16Array.from(values as number[]));
    case 'UINT32': return bytesOf(Uint32Array.from(values as number[]));
    case 'INT64': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt(values[i] as Int64);
      return bytesOf(out);
    }
    case 'UINT64': {
      const out = new BigUint64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt(values[i] as Int64);
      return bytesOf(out);
    }
    case 'FP32': return bytesOf(Float32Array.from(values as number[]));
    case 'FP64': return bytesOf(Float64Array.from(values as number[]));
    case 'BYTES': return joinBytes(values as Uint8Array[]);
    default:
      // FP16/BF16 have no typed field; fieldType() never matches them.
      throw new Error(`unreachable: ${field} for ${datatype}`);
  }
}

/** Typed `contents` -> raw layout, with Triton's checks on which field is used. */
function decodeContents(
  input: InferInputTensorMsg, datatype: DataType, contents: Partial<InferTensorContentsMsg>, model: string,
): Uint8Array {
  let data: Uint8Array | undefined;
  for (const field of CONTENTS_FIELDS) {
    const values = contents[field];
    if (values === undefined || values.length === 0) continue;
    if (data !== undefined) {
      throw new InvalidArgument(`unexpected explicit tensor data for input tensor '${input.name}' for model '${model}', binary data was already supplied.`);
    }
    const type = fieldType(field, datatype);
    if (type !== datatype) {
      throw new InvalidArgument(`unexpected explicit tensor data for input tensor '${input.name}' for model '${model}' of type '${type}', expected datatype '${datatype}'`);
    }
    data = encodeContents(datatype, field, values);
  }
  return data ?? new Uint8Array(0);
}

// ---- request ----

/** What the transport knows about a call, beyond the message. */
export interface CallContext {
  /** Absolute deadline in performance.now() milliseconds; Infinity when none. */
  deadline: number;
  signal?: CancelSignal;
}

function decodeOutputs(msg: ModelInferRequestMsg): RequestedOutput[] | undefined {
  const n = msg.outputs.length;
  if (n === 0) return undefined;
  const outputs = new Array<RequestedOutput>(n);
  for (let i = 0; i < n; i++) {
    const o = msg.outputs[i]!;
    const { params, shm } = decodeTensorParams(o.parameters, 'output', o.name);
    const out: RequestedOutput = params === EMPTY_PARAMS ? { name: o.name } : { name: o.name, parameters: params };
    if (shm !== undefined) out.shm = shm;
    outputs[i] = out;
  }
  return outputs;
}

/**
 * ModelInferRequest -> InferenceRequest. Inputs come either all from
 * `raw_input_contents` (by position) or all from typed `contents`; element counts
 * must match the shapes. Throws InvalidArgument with Triton's wording.
 */
export function decodeInferRequest(msg: ModelInferRequestMsg, ctx: CallContext): InferenceRequest {
  if (msg instanceof MalformedInferRequest) throw msg.error;
  const model = msg.model_name;
  const raw = msg.raw_input_contents;
  const nInputs = msg.inputs.length;
  const inputs = new Array<Tensor>(nInputs);
  // raw_input_contents has one entry per input not taken from shared memory.
  let rawIndex = 0;
  let shmInputs = 0;
  for (let i = 0; i < nInputs; i++) {
    const input = msg.inputs[i]!;
    const { name } = input;
    const datatype = input.datatype;
    if (!isDataType(datatype)) {
      throw new InvalidArgument(`invalid datatype '${datatype}' for input '${name}'; expected one of ${DATATYPES.join(', ')}`);
    }
    const shape = decodeShape(input.shape, name);
    const { params, shm } = decodeTensorParams(input.parameters, 'input', name);
    let data: Uint8Array;
    if (shm !== undefined) {
      // Read from the region by the data plane, once the request holds it.
      inputs[i] = params === EMPTY_PARAMS ? { name, datatype, shape, data: EMPTY_BYTES, shm } : { name, datatype, shape, data: EMPTY_BYTES, parameters: params, shm };
      shmInputs++;
      continue;
    }
    if (input.contents != null) {
      if (raw.length !== 0) {
        throw new InvalidArgument(`contents field must not be specified when using raw_input_contents for '${name}' for model '${model}'`);
      }
      data = decodeContents(input, datatype, input.contents, model);
    } else if (rawIndex < raw.length) {
      data = raw[rawIndex++]!;
    } else {
      throw new InvalidArgument(`unable to find data for input tensor '${name}' for model '${model}' in request.`);
    }
    inputs[i] = params === EMPTY_PARAMS
      ? { name, datatype, shape, data }
      : { name, datatype, shape, data, parameters: params };
  }
  if (raw.length > nInputs - shmInputs) {
    const per = shmInputs === 0 ? 'one per input' : 'one per input not in shared memory';
    throw new InvalidArgument(`expected ${nInputs - shmInputs} raw_input_contents for model '${model}' (${per}), got ${raw.length}`);
  }
  const request: InferenceRequest = {
    modelName: model,
    modelVersion: checkModelVersion(msg.model_version),
    id: msg.id,
    parameters: decodeRequestParams(msg.parameters),
    inputs,
    outputs: decodeOutputs(msg),
    deadline: ctx.deadline,
  };
  if (ctx.signal !== undefined) request.signal = ctx.signal;
  if (shmInputs > 0 || request.outputs?.some((o) => o.shm !== undefined)) request.sharedMemory = true;
  return request;
}

// ---- response ----

/**
 * InferenceResponse -> ModelInferResponse: every output's bytes go in
 * `raw_output_contents`, one entry per output in the same order (clients read
 * them by position). The entries are the tensors' own Uint8Arrays, not copies:
 * both serializers (grpc-wire-encode.ts and protobufjs) copy them straight into the
 * outgoing message.
 */
export function encodeInferResponse(res: InferenceResponse): ModelInferResponseMsg {
  const n = res.outputs.length;
  const outputs = new Array<InferOutputTensorMsg>(n);
  const raw = new Array<Uint8Array>(n);
  for (let i = 0; i < n; i++) {
    const t = res.outputs[i]!;
    const o: InferOutputTensorMsg = { name: t.name, datatype: t.datatype, shape: t.shape };
    if (t.parameters !== undefined) o.parameters = encodeParams(t.parameters);
    outputs[i] = o;
    raw[i] = t.data;
  }
  const msg: ModelInferResponseMsg = {
    model_name: res.modelName,
    model_version: res.modelVersion,
    id: res.id,
    outputs,
    raw_output_contents: raw,
  };
  if (res.parameters !== undefined) msg.parameters = encodeParams(res.parameters);
  return msg;
}
