/**
 * Bodies of the HTTP control routes (repository index/load/unload, logging) -> the
 * arguments of the matching DataPlane calls. An empty body means "no options".
 */
import { InvalidArgument } from '../errors/errors.js';
import type { LoadOptions } from '../types/inference.js';
import { assertDepth, jsonText, parseJsonFast } from './json-parse.js';
import { isPlainObject } from './json-params.js';

export function parseControlBody(body: Uint8Array): Record<string, unknown> {
  if (body.byteLength === 0) return {};
  const text = jsonText(Buffer.from(body.buffer, body.byteOffset, body.byteLength), body.byteLength);
  const { value } = parseJsonFast(text);
  if (!isPlainObject(value)) throw new InvalidArgument('the request JSON must be an object');
  assertDepth(value, 1);
  return value;
}

/** POST /v2/repository/index: `{"ready": bool}` -> readyOnly. */
export function decodeIndexBody(body: Uint8Array): boolean {
  const ready = parseControlBody(body).ready;
  if (ready === undefined) return false;
  if (typeof ready !== 'boolean') throw new InvalidArgument("'ready' must be a bool");
  return ready;
}

function parametersOf(doc: Record<string, unknown>): Record<string, unknown> {
  const p = doc.parameters;
  if (p === undefined) return {};
  if (!isPlainObject(p)) throw new InvalidArgument("'parameters' must be a JSON object");
  return p;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const FILE_PREFIX = 'file:';

/**
 * POST /v2/repository/models/{m}/load: `config` (JSON text of a ModelConfig) and
 * `file:<version>/<name>` (base64 contents). Other parameters are ignored.
 */
export function decodeLoadBody(body: Uint8Array): LoadOptions {
  const params = parametersOf(parseControlBody(body));
  const options: LoadOptions = {};
  for (const key in params) {
    const v = params[key];
    if (key === 'config') {
      if (typeof v !== 'string') throw new InvalidArgument("load parameter 'config' must be a string holding the model config JSON");
      options.config = v;
    } else if (key.startsWith(FILE_PREFIX)) {
      if (typeof v !== 'string' || !BASE64.test(v)) {
        throw new InvalidArgument(`load parameter '${key}' must be a base64 string of the file contents`);
      }
      (options.files ??= new Map()).set(key.slice(FILE_PREFIX.length), new Uint8Array(Buffer.from(v, 'base64')));
    }
  }
  return options;
}

/** POST /v2/repository/models/{m}/unload: `{"parameters": {"unload_dependents": bool}}`. */
export function decodeUnloadBody(body: Uint8Array): boolean {
  const v = parametersOf(parseControlBody(body)).unload_dependents;
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new InvalidArgument("unload parameter 'unload_dependents' must be a bool");
  return v;
}

/** POST /v2/logging: an object of scalar settings; which names are valid is the data plane's call. */
export function decodeLogSettingsBody(body: Uint8Array): Record<string, boolean | number | string> {
  const doc = parseControlBody(body);
  const out: Record<string, boolean | number | string> = {};
  for (const key in doc) {
    const v = doc[key];
    if (typeof v !== 'boolean' && typeof v !== 'number' && typeof v !== 'string') {
      throw new InvalidArgument(`log setting '${key}' must be a bool, number or string`);
    }
    out[key] = v;
  }
  return out;
}

function uintField(doc: Record<string, unknown>, key: string): number | undefined {
  const v = doc[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new InvalidArgument(`Shared memory register request field '${key}' must be a non-negative integer`);
  return v;
}

/** POST /v2/systemsharedmemory/region/{r}/register: `{"key", "offset"?, "byte_size"}` (Triton's texts). */
export function decodeShmRegisterBody(body: Uint8Array): { key: string; offset: number; byteSize: number } {
  const doc = parseControlBody(body);
  if (doc.key === undefined) throw new InvalidArgument("Shared memory register request has no 'key' field");
  if (typeof doc.key !== 'string') throw new InvalidArgument("Shared memory register request field 'key' must be a string");
  const byteSize = uintField(doc, 'byte_size');
  if (byteSize === undefined) throw new InvalidArgument("Shared memory register request has no 'byte_size' field");
  return { key: doc.key, offset: uintField(doc, 'offset') ?? 0, byteSize };
}

/** POST /v2/cudasharedmemory/region/{r}/register: checked as Triton does before it refuses (no GPUs here). */
export function decodeCudaRegisterBody(body: Uint8Array): void {
  const doc = parseControlBody(body);
  for (const key of ['raw_handle', 'device_id', 'byte_size']) {
    if (doc[key] === undefined) throw new InvalidArgument(`Shared memory register request has no '${key}' field`);
  }
}
