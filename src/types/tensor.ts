/**
 * Tensors as the data plane sees them: one representation for every protocol.
 *
 * `data` always holds Triton's raw layout: little-endian, row-major; BOOL one byte
 * per element; BYTES as a uint32 little-endian length followed by the bytes, per
 * element. Keeping one layout means the batcher can concatenate requests with a
 * single copy and the HTTP binary extension / gRPC raw contents need no conversion.
 */

export const DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64',
  'FP16', 'FP32', 'FP64', 'BYTES', 'BF16',
] as const;

export type DataType = (typeof DATATYPES)[number];

/** Bytes per element in the raw layout; 0 for BYTES (variable length). */
export const ELEMENT_SIZE: Readonly<Record<DataType, number>> = Object.freeze({
  BOOL: 1, UINT8: 1, UINT16: 2, UINT32: 4, UINT64: 8, INT8: 1, INT16: 2, INT32: 4,
  INT64: 8, FP16: 2, FP32: 4, FP64: 8, BYTES: 0, BF16: 2,
});

const DATATYPE_SET: ReadonlySet<string> = new Set(DATATYPES);

export function isDataType(s: unknown): s is DataType {
  return typeof s === 'string' && DATATYPE_SET.has(s);
}

/** Parameter values as both protocols carry them (gRPC InferParameter oneof, JSON scalars). */
export type ParamValue = boolean | number | bigint | string;
export type Params = Record<string, ParamValue>;

/**
 * A tensor's place in a registered system shared-memory region (Triton's
 * `shared_memory_region`, `shared_memory_offset`, `shared_memory_byte_size`).
 */
export interface ShmRef { region: string; offset: number; byteSize: number }

export interface Tensor {
  name: string;
  datatype: DataType;
  /** Full shape, batch dimension included when the model batches. */
  shape: number[];
  /**
   * Raw layout (see above). May be a view into a larger buffer (or into a shared-memory
   * region, valid only while the request holds it): never transfer it.
   */
  data: Uint8Array;
  parameters?: Params;
  /**
   * Input: read from this shared-memory place (the data plane fills `data`). Output:
   * the data plane wrote it there; `data` is empty and the front ends send no bytes.
   */
  shm?: ShmRef;
}

/** Product of the dims; 1 for a scalar shape []. */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
