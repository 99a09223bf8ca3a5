/** Config datatypes (TYPE_FP32, TYPE_STRING) <-> wire datatypes (FP32, BYTES). */
import { type DataType, isDataType } from '../types/tensor.js';
import type { ConfigDataType } from './model-config.js';

export function wireDataType(t: ConfigDataType): DataType | 'INVALID' {
  if (t === 'TYPE_STRING') return 'BYTES';
  const s = t.slice(5);
  return isDataType(s) ? s : 'INVALID';
}

export function configDataType(t: DataType): ConfigDataType {
  return t === 'BYTES' ? 'TYPE_STRING' : (`TYPE_${t}` as ConfigDataType);
}
