/**
 * JSON `parameters` objects -> Params, shared by the infer request decoder (request,
 * input and output parameters). Values are scalars, as in gRPC's InferParameter.
 */
import { InvalidArgument, Unsupported } from '../errors/errors.js';
import type { ParamValue, Params } from '../types/tensor.js';

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

const SHM_KEYS = ['shared_memory_region', 'shared_memory_offset', 'shared_memory_byte_size'];

/** Shared memory is not implemented; say so instead of ignoring the region. */
export function rejectSharedMemory(params: Params, where: string): void {
  for (const k of SHM_KEYS) {
    if (params[k] !== undefined) throw new Unsupported(`shared memory is not supported: ${where} sets '${k}'`);
  }
}
