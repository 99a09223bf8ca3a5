/** Triton datatypes <-> ONNX Runtime tensor types. Runs on worker threads. */
import type { ConfigDataType } from '../config/model-config.js';
import type { DataType } from '../types/tensor.js';

export type OrtType =
  | 'float32' | 'float64' | 'float16' | 'int8' | 'int16' | 'int32' | 'int64'
  | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'bool' | 'string';

export const ORT_TYPE: Readonly<Partial<Record<DataType, OrtType>>> = Object.freeze({
  BOOL: 'bool', UINT8: 'uint8', UINT16: 'uint16', UINT32: 'uint32', UINT64: 'uint64',
  INT8: 'int8', INT16: 'int16', INT32: 'int32', INT64: 'int64',
  FP16: 'float16', FP32: 'float32', FP64: 'float64', BYTES: 'string',
  // BF16: onnxruntime-node has no bfloat16 tensor type, so BF16 models cannot be fed.
});

const FROM_ORT: Readonly<Record<string, DataType>> = Object.freeze(
  Object.fromEntries(Object.entries(ORT_TYPE).map(([k, v]) => [v, k])) as Record<string, DataType>,
);

export function dataTypeFromOrt(t: string): DataType | undefined {
  return FROM_ORT[t];
}

export function configTypeFromOrt(t: string): ConfigDataType {
  const d = FROM_ORT[t];
  if (d === undefined) return 'TYPE_INVALID';
  return d === 'BYTES' ? 'TYPE_STRING' : (`TYPE_${d}` as ConfigDataType);
}
