/**
 * InferenceResponse -> HTTP infer response body.
 *
 * JSON: `{"id"?, "model_name", "model_version", "parameters"?, "outputs": [...]}`,
 * written by hand (see json-write.ts for why). An output is binary when its requested
 * parameters say `binary_data: true`, or they say nothing and the request default
 * (`binary_data_output`, or the raw-body form) is binary. Binary outputs carry
 * `parameters.binary_data_size` and their bytes follow the JSON in output order.
 */
import { InvalidArgument } from '../errors/errors.js';
import type { InferenceResponse, RequestedOutput } from '../types/inference.js';
import type { Tensor } from '../types/tensor.js';
import { hasKeys, paramsJson, tensorDataJson } from './json-write.js';

export interface EncodedInferResponse {
  /** A string when every output is JSON; otherwise JSON header + binary section. */
  body: string | Buffer;
  /** Byte length of the JSON header; set only when `body` has a binary section. */
  jsonLength?: number;
}

/** The output's requested `binary_data`, else the request default. */
export function outputIsBinary(requested: readonly RequestedOutput[] | undefined, name: string, binaryDefault: boolean): boolean {
  if (requested !== undefined) {
    for (let i = 0; i < requested.length; i++) {
      const r = requested[i]!;
      if (r.name === name) {
        const b = r.parameters?.binary_data;
        return typeof b === 'boolean' ? b : binaryDefault;
      }
    }
  }
  return binaryDefault;
}

export function encodeInferResponse(
  resp: InferenceResponse, requested: readonly RequestedOutput[] | undefined, binaryDefault: boolean,
): EncodedInferResponse {
  let json = '{';
  if (resp.id !== '') json += '"id":' + JSON.stringify(resp.id) + ',';
  json += '"model_name":' + JSON.stringify(resp.modelName) + ',"model_version":' + JSON.stringify(resp.modelVersion);
  if (hasKeys(resp.parameters)) json += ',"parameters":' + paramsJson(resp.parameters!);
  json += ',"outputs":[';
  let binary: Tensor[] | undefined;
  let binaryBytes = 0;
  for (let i = 0; i < resp.outputs.length; i++) {
    const t = resp.outputs[i]!;
    if (i > 0) json += ',';
    json += '{"name":' + JSON.stringify(t.name) + ',"datatype":"' + t.datatype + '","shape":[' + t.shape.join(',') + ']';
    if (t.shm !== undefined) {
      // Written into shared memory: name, datatype and shape only (Triton).
      json += '}';
    } else if (outputIsBinary(requested, t.name, binaryDefault)) {
      const params = { ...t.parameters, binary_data_size: t.data.byteLength };
      json += ',"parameters":' + paramsJson(params) + '}';
      (binary ??= []).push(t);
      binaryBytes += t.data.byteLength;
    } else {
      if (t.datatype === 'FP16' || t.datatype === 'BF16') {
        // As Triton: these travel raw only, both ways (binary_data: true, or binary_data_output).
        throw new InvalidArgument(`sending ${t.datatype} data via JSON is not supported. Please use the binary data format for output`);
      }
      if (hasKeys(t.parameters)) json += ',"parameters":' + paramsJson(t.parameters!);
      json += ',"data":' + tensorDataJson(t.datatype, t.data) + '}';
    }
  }
  json += ']}';
  if (binary === undefined) return { body: json };

  // One allocation for header + tensors: uWS sends it with a Content-Length.
  const jsonLength = Buffer.byteLength(json);
  const body = Buffer.allocUnsafe(jsonLength + binaryBytes);
  body.write(json, 0, 'utf8');
  let off = jsonLength;
  for (const t of binary) {
    body.set(t.data, off);
    off += t.data.byteLength;
  }
  return { body, jsonLength };
}
