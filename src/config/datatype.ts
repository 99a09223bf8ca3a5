/**
 * Config datatypes (`TYPE_FP32`) <-> wire datatypes (`FP32`). The only irregular
 * pair is TYPE_STRING <-> BYTES; TYPE_INVALID has no wire form.
 */

import { InvalidArgument } from '../errors/errors.js';
import type { DataType } from '../types/tensor.js';
import type { ConfigDataType } from './model-config.js';

export function configDataTypeToWire(t: ConfigDataType): DataType {
  if (t === 'TYPE_STRING') return 'BYTES';
  if (t === 'TYPE_INVALID') throw new InvalidArgument("datatype TYPE_INVALID has no wire form");
  return t.slice('TYPE_'.length) as DataType;
}

export function wireDataTypeToConfig(t: DataType): ConfigDataType {
  return t === 'BYTES' ? 'TYPE_STRING' : (`TYPE_${t}` as ConfigDataType);
}
