/**
 * HTTP infer request body -> InferenceRequest.
 *
 * The body is a JSON header, optionally followed by the binary tensor data extension's
 * raw bytes (`Inference-Header-Content-Length` gives the JSON length; inputs with
 * `parameters.binary_data_size` take their bytes in input order). Binary inputs are
 * views into `body`: the body buffer must stay untouched while the request lives.
 */
import { InvalidArgument } from '../errors/errors.js';
import type { InferenceRequest, RequestedOutput, TensorMetadata } from '../types/inference.js';
import { type DataType, ELEMENT_SIZE, type Params, type Tensor, elementCount, isDataType } from '../types/tensor.js';
import { assertDepth, jsonDepthError, jsonText, MAX_JSON_DEPTH, parseJsonExact, parseJsonFast } from './json-parse.js';
import {
  boolParam, checkExact, decodeParams, isPlainObject, NEED_EXACT, takeSharedMemory, uintParam,
} from './json-params.js';
import { encodeValues } from './raw.js';

export interface DecodedInfer {
  request: InferenceRequest;
  /** Whether outputs whose own parameters do not say `binary_data` are sent binary. */
  binaryOutputs: boolean;
}

/**
 * Parse the `Inference-Header-Content-Length` header value. undefined when absent
 * (the whole body is JSON); 0 means the body is the single raw input.
 */
export function parseHeaderLength(value: string, bodyLength: number): number | undefined {
  if (value === '') return undefined;
  if (!/^\d+$/.test(value)) {
    throw new InvalidArgument(`Inference-Header-Content-Length must be a non-negative integer, got '${value}'`);
  }
  const n = Number(value);
  if (n > bodyLength) {
    throw new InvalidArgument(`Inference-Header-Content-Length ${n} exceeds the request body size ${bodyLength}`);
  }
  return n;
}

const EMPTY_BYTES = new Uint8Array(0);

/** JSON header (+ binary section) form. `headerLength` undefined: the whole body is JSON. */
export function decodeJsonInferRequest(
  body: Uint8Array, headerLength: number | undefined, modelName: string, modelVersion: string,
): DecodedInfer {
  const jsonEnd = headerLength ?? body.byteLength;
  // The front end hands a Buffer: read the text from it without another view object.
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const text = jsonText(buf, jsonEnd);
  const binary = headerLength === undefined ? EMPTY_BYTES : body.subarray(jsonEnd);
  const parsed = parseJsonFast(text);
  try {
    return decodeDocument(parsed.value, parsed.exact, binary, modelName, modelVersion);
  } catch (err) {
    if (err !== NEED_EXACT) throw err;
    // JSON.parse rounded an integer beyond 2^53 that matters (INT64 data, parameters).
    return decodeDocument(parseJsonExact(text), true, binary, modelName, modelVersion);
  }
}


function decodeDocument(
  doc: unknown, exact: boolean, binary: Uint8Array, modelName: string, modelVersion: string,
): DecodedInfer {
  if (!isPlainObject(doc)) throw new InvalidArgument('the request JSON must be an object');
  // Depth 1 is the document; `inputs` is checked as it is decoded (its `data` may be big).
  for (const key in doc) if (key !== 'inputs') assertDepth(doc[key], 2);

  const id = doc.id;
  if (id !== undefined && typeof id !== 'string') throw new InvalidArgument("'id' must be a string");

  // Reserved (triton_) keys and each input's byte size are checked once, by the
  // request model (request/prepare.ts), for every request whatever its source.
  const parameters = decodeParams(doc.parameters, 'the request', exact);
  if (parameters.sequence_id !== undefined || parameters.sequence_start !== undefined || parameters.sequence_end !== undefined) {
    checkSequenceParamTypes(parameters);
  }
  // An HTTP encoding choice, not a model parameter: consumed here.
  const binaryOutputs = boolParam(parameters.binary_data_output, 'binary_data_output', 'the request') ?? false;
  delete parameters.binary_data_output;

  if (!Array.isArray(doc.inputs)) throw new InvalidArgument("the request JSON has no 'inputs' array");
  const inputs: Tensor[] = new Array(doc.inputs.length);
  let offset = 0;
  for (let i = 0; i < doc.inputs.length; i++) {
    const t = decodeInput(doc.inputs[i], i, exact, binary, offset);
    inputs[i] = t.tensor;
    offset = t.offset;
  }
  if (offset < binary.byteLength) {
    throw new InvalidArgument(`unexpected additional input data for model '${modelName}': ${binary.byteLength - offset} bytes after the last binary input`);
  }

  const request: InferenceRequest = {
    modelName, modelVersion, id: id ?? '', parameters, inputs,
    outputs: decodeOutputs(doc.outputs, exact), deadline: Infinity,
  };
  if (usesSharedMemory(request)) request.sharedMemory = true;
  return { request, binaryOutputs };
}

const UINT64_MAX = 2n ** 64n - 1n;

/**
 * Triton's HTTP front end reads `sequence_id` as a uint64 or a string and the flags
 * as bools, for any model: a negative, fractional or too large id is refused here,
 * not wrapped into another sequence's id (gRPC's int64_param does wrap, as Triton's
 * cast does: request/sequence.ts).
 */
function checkSequenceParamTypes(params: Params): void {
  const id = params.sequence_id;
  if (id !== undefined && typeof id !== 'string') {
    const ok = typeof id === 'bigint' ? id >= 0n && id <= UINT64_MAX : typeof id === 'number' && Number.isSafeInteger(id) && id >= 0;
    if (!ok) throw new InvalidArgument("Unable to parse 'sequence_id', expecting uint64 or string");
  }
  boolParam(params.sequence_start, 'sequence_start', 'the request');
  boolParam(params.sequence_end, 'sequence_end', 'the request');
}

/** Whether any input or output of a decoded request names a shared-memory region. */
export function usesSharedMemory(req: InferenceRequest): boolean {
  for (const t of req.inputs) if (t.shm !== undefined) return true;
  if (req.outputs !== undefined) for (const o of req.outputs) if (o.shm !== undefined) return true;
  return false;
}

function decodeInput(
  raw: unknown, index: number, exact: boolean, binary: Uint8Array, offset: number,
): { tensor: Tensor; offset: number } {
  if (!isPlainObject(raw)) throw new InvalidArgument(`input ${index} of the request must be a JSON object`);
  for (const key in raw) if (key !== 'data') assertDepth(raw[key], 4);
  const name = raw.name;
  if (typeof name !== 'string') throw new InvalidArgument(`input ${index} of the request has no 'name' string`);
  const where = `input '${name}'`;
  const datatype = raw.datatype;
  if (!isDataType(datatype)) {
    throw new InvalidArgument(`invalid datatype '${String(datatype)}' for ${where}; expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES, BF16`);
  }
  const shape = decodeShape(raw.shape, where);

  const params = decodeParams(raw.parameters, where, exact);
  const hasData = raw.data !== undefined;
  const hasBinary = params.binary_data_size !== undefined;
  const hasShm = params.shared_memory_region !== undefined;
  if ((hasData ? 1 : 0) + (hasBinary ? 1 : 0) + (hasShm ? 1 : 0) !== 1) {
    // Triton's text, field by field.
    let set = '';
    if (hasData) set += " 'data'";
    if (hasBinary) set += " 'binary_data_size'";
    if (hasShm) set += " 'shared_memory_region'";
    throw new InvalidArgument("Input must set only one of the following fields: 'data', 'binary_data_size' in 'parameters', 'shared_memory_region' in 'parameters'. But"
      + (set === '' ? ' no field is set' : ` set${set}`));
  }
  const shm = takeSharedMemory(params, where);
  const size = uintParam(params.binary_data_size, 'binary_data_size', where);
  delete params.binary_data_size;

  let data: Uint8Array;
  if (shm !== undefined) {
    // The data plane reads it from the region once the request holds it.
    data = EMPTY_BYTES;
  } else if (size !== undefined) {
    const remaining = binary.byteLength - offset;
    if (size > remaining) {
      throw new InvalidArgument(`unexpected binary data size for ${where}: binary_data_size is ${size} but only ${remaining} bytes of binary data remain`);
    }
    data = binary.subarray(offset, offset + size);
    offset += size;
  } else {
    data = jsonTensorData(raw.data, shape, datatype, name, exact);
  }
  const tensor: Tensor = { name, datatype, shape, data };
  if (shm !== undefined) tensor.shm = shm;
  for (const _ in params) { tensor.parameters = params; break; }
  return { tensor, offset };
}

function decodeShape(raw: unknown, where: string): number[] {
  if (!Array.isArray(raw)) throw new InvalidArgument(`${where} has no 'shape' array`);
  const shape: number[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const d: unknown = raw[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new InvalidArgument(`'shape' of ${where} must hold non-negative integers, got ${typeof d === 'bigint' ? d.toString() : JSON.stringify(d)}`);
    }
    shape[i] = d;
  }
  return shape;
}

function decodeOutputs(raw: unknown, exact: boolean): RequestedOutput[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw)) throw new InvalidArgument("'outputs' of the request must be an array");
  const outputs: RequestedOutput[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const o: unknown = raw[i];
    if (!isPlainObject(o) || typeof o.name !== 'string') {
      throw new InvalidArgument(`output ${i} of the request must be a JSON object with a 'name' string`);
    }
    const where = `output '${o.name}'`;
    const params = decodeParams(o.parameters, where, exact);
    const shm = takeSharedMemory(params, where);
    const binary = boolParam(params.binary_data, 'binary_data', where);
    if (shm !== undefined) {
      if (binary === true) throw new InvalidArgument("Output can't set both 'shared_memory_region' and 'binary_data'");
      if (params.classification !== undefined) throw new InvalidArgument("Output can't set both 'shared_memory_region' and 'classification'");
    }
    if (params.classification !== undefined) {
      params.classification = uintParam(params.classification, 'classification', where)!;
    }
    const out: RequestedOutput = o.parameters === undefined ? { name: o.name } : { name: o.name, parameters: params };
    if (shm !== undefined) out.shm = shm;
    outputs[i] = out;
  }
  return outputs;
}

/** JSON `data` (flat or nested row-major) -> raw layout, checked against the shape. */
function jsonTensorData(data: unknown, shape: number[], datatype: DataType, name: string, exact: boolean): Uint8Array {
  if (datatype === 'FP16' || datatype === 'BF16') {
    throw new InvalidArgument(`datatype ${datatype} of input '${name}' is not supported in JSON; send it as binary data`);
  }
  if (!Array.isArray(data)) throw new InvalidArgument(`unable to parse 'data' for input '${name}': expected a JSON array`);
  const values = flatten(data, shape, name);
  if (datatype === 'INT64' || datatype === 'UINT64') {
    const [min, max] = datatype === 'INT64' ? INT64_RANGE : UINT64_RANGE;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      checkExact(v, exact);
      // encodeValues' own error text calls JSON.stringify, which throws on bigint.
      if (typeof v === 'bigint' && (v < min || v > max)) {
        throw new InvalidArgument(`unable to parse 'data': expected ${datatype} value for input '${name}', got ${v.toString()}`);
      }
    }
  } else if (exact) {
    // The exact parser writes long integer literals as bigint; other types want numbers
    // (range checks in encodeValues then reject what does not fit).
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v === 'bigint') values[i] = Number(v);
    }
  }
  return encodeValues(datatype, values, name);
}

const INT64_RANGE = [-(2n ** 63n), 2n ** 63n - 1n] as const;
const UINT64_RANGE = [0n, 2n ** 64n - 1n] as const;

/** Level of an input's `data` array in the document: root 1, inputs 2, input 3. */
const DATA_DEPTH = 4;

function flatten(data: unknown[], shape: readonly number[], name: string): unknown[] {
  const count = elementCount(shape);
  if (data.length === 0 || !Array.isArray(data[0])) {
    if (data.length !== count) {
      throw new InvalidArgument(`unable to parse 'data' for input '${name}': shape [${shape.join(',')}] has ${count} elements but 'data' has ${data.length}`);
    }
    // Objects would reach encodeValues' error path, which stringifies them (deep ones
    // would overflow the stack): reject them here.
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (typeof v === 'object' && v !== null) throw nestedMismatch(name, shape);
    }
    return data;
  }
  if (DATA_DEPTH + shape.length - 1 > MAX_JSON_DEPTH) throw jsonDepthError();
  const out: unknown[] = new Array(count);
  let k = 0;
  // Recursion is bounded by the shape's rank (checked just above).
  const walk = (level: unknown, d: number): void => {
    if (!Array.isArray(level) || level.length !== shape[d]) throw nestedMismatch(name, shape);
    if (d === shape.length - 1) {
      for (let i = 0; i < level.length; i++) {
        const v: unknown = level[i];
        if (typeof v === 'object' && v !== null) throw nestedMismatch(name, shape);
        out[k++] = v;
      }
    } else {
      for (let i = 0; i < level.length; i++) walk(level[i], d + 1);
    }
  };
  if (shape.length === 0) throw nestedMismatch(name, shape);
  walk(data, 0);
  return out;
}

function nestedMismatch(name: string, shape: readonly number[]): InvalidArgument {
  return new InvalidArgument(`unable to parse 'data' for input '${name}': nested arrays do not match shape [${shape.join(',')}]`);
}

/**
 * `Inference-Header-Content-Length: 0`: the whole body is the raw data of the model's
 * only input, batch 1; every output comes back binary. The input is made by the data
 * plane (`rawBodyInput`) from the metadata of the version that serves the request.
 */
export function decodeRawInferRequest(body: Uint8Array, modelName: string, modelVersion: string): DecodedInfer {
  const request: InferenceRequest = {
    modelName, modelVersion, id: '', parameters: {}, inputs: [], outputs: undefined, deadline: Infinity, rawBody: body,
  };
  return { request, binaryOutputs: true };
}

/**
 * The one input of a raw-body request, as Triton's request normalization makes it
 * from the serving version's config: batch 1 (`[1, ...dims]` when the model batches,
 * the dims alone when not); the one variable dim, if any, is whatever the data holds.
 * A BYTES input must be a single element, and the body is that element's bytes (its
 * length is put in front here, as Triton does). `inputs` is the version's input
 * metadata (shapes with the leading -1 of a batching model).
 */
export function rawBodyInput(body: Uint8Array, inputs: readonly TensorMetadata[], batching: boolean, modelName: string): Tensor {
  if (inputs.length !== 1) {
    throw new InvalidArgument(`Raw request must only have 1 input (found 1) to be deduced but got ${inputs.length} inputs in '${modelName}' model configuration`);
  }
  const input = inputs[0]!;
  const dims = batching ? input.shape.slice(1) : input.shape;
  const shape: number[] = batching ? [1] : [];
  let variable = -1;
  let elements = 1;
  for (const d of dims) {
    if (d < 0) {
      if (variable >= 0) {
        throw new InvalidArgument(`The shape of the raw input '${input.name}' can not be deduced because there are more than one variable-sized dimension`);
      }
      variable = shape.length;
    } else {
      elements *= d;
    }
    shape.push(d);
  }
  if (input.datatype === 'BYTES') {
    if (variable >= 0 || elements !== 1) {
      throw new InvalidArgument(`For BYTE datatype raw input '${input.name}', the model must have input shape [1]`);
    }
    if (body.byteLength > 0xffffffff) throw new InvalidArgument(`raw input '${input.name}' is longer than a BYTES element can be (2^32 - 1 bytes)`);
    const data = new Uint8Array(4 + body.byteLength);
    new DataView(data.buffer).setUint32(0, body.byteLength, true);
    data.set(body, 4);
    return { name: input.name, datatype: input.datatype, shape, data };
  }
  // A size that does not divide evenly is reported against this shape by prepare (checkRawSize).
  if (variable >= 0) shape[variable] = elements === 0 ? 0 : Math.floor(body.byteLength / elements / ELEMENT_SIZE[input.datatype]);
  return { name: input.name, datatype: input.datatype, shape, data: body };
}
