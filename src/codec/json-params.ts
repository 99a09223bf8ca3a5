/**
 * JSON `parameters` objects -> Params, shared by the infer request decoder (request,
 * input and output parameters). Values are scalars, as in gRPC's InferParameter.
 */
import { InvalidArgument } from '../errors/errors.js';
import type { ParamValue, Params, ShmRef } from '../types/tensor.js';

/**
 * Thrown (never escapes the codec) when a document parsed by JSON.parse holds an
 * integer that may have been rounded; the decoder re-parses the text exactly.
 */
export const NEED_EXACT: unique symbol = Symbol('json needs exact integers');

/** Throws NEED_EXACT when `v` is an integer that JSON.parse may have rounded. */
export function checkExact(v: unknown, exact: boolean): void {
  if (!exact && typeof v === 'number' && !Number.isSafeInteger(v) && Number.isInteger(v)) throw NEED_EXACT;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `where` names the owner in messages ("the request", "input 'x'"). */
export function decodeParams(raw: unknown, where: string, exact: boolean): Params {
  if (raw === undefined) return {};
  if (!isPlainObject(raw)) throw new InvalidArgument(`'parameters' of ${where} must be a JSON object`);
  const out: Params = {};
  for (const key in raw) {
    const v = raw[key];
    if (typeof v === 'boolean' || typeof v === 'string' || typeof v === 'bigint') {
      out[key] = v;
    } else if (typeof v === 'number') {
      checkExact(v, exact);
      out[key] = v;
    } else {
      throw new InvalidArgument(`parameter '${key}' of ${where} must be a bool, number or string`);
    }
  }
  return out;
}

/** A parameter that must be a non-negative integer (binary_data_size, classification). */
export function uintParam(v: ParamValue | undefined, key: string, where: string): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgument(`parameter '${key}' of ${where} must be a non-negative integer`);
  }
  return n;
}

export function boolParam(v: ParamValue | undefined, key: string, where: string): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v;
  throw new InvalidArgument(`parameter '${key}' of ${where} must be a bool`);
}

/**
 * A tensor's shared-memory parameters (both protocols), removed from `params`:
 * undefined when it names no region. The region must be a string and the byte size
 * is required; the offset defaults to 0 (tritonclient omits it then).
 */
export function takeSharedMemory(params: Params, where: string): ShmRef | undefined {
  const region = params.shared_memory_region;
  const size = params.shared_memory_byte_size;
  const off = params.shared_memory_offset;
  if (region === undefined) {
    if (size !== undefined || off !== undefined) {
      throw new InvalidArgument(`${where} sets '${size !== undefined ? 'shared_memory_byte_size' : 'shared_memory_offset'}' without 'shared_memory_region'`);
    }
    return undefined;
  }
  if (typeof region !== 'string') throw new InvalidArgument(`parameter 'shared_memory_region' of ${where} must be a string`);
  const byteSize = uintParam(size, 'shared_memory_byte_size', where);
  if (byteSize === undefined) throw new InvalidArgument(`${where} sets 'shared_memory_region' without 'shared_memory_byte_size'`);
  const offset = uintParam(off, 'shared_memory_offset', where) ?? 0;
  delete params.shared_memory_region;
  delete params.shared_memory_byte_size;
  delete params.shared_memory_offset;
  return { region, offset, byteSize };
}
