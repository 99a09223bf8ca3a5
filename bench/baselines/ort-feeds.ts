/** Random model inputs as onnxruntime-node tensors, for the in-process ceiling. */
import * as ort from 'onnxruntime-node';
import { buildInputSteps } from '../loadgen/input-data.js';
import type { ModelInfo } from '../loadgen/types.js';

type Typed = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array;

const VIEW: Record<string, [ort.Tensor.Type, (b: ArrayBuffer) => Typed]> = {
  FP32: ['float32', (b) => new Float32Array(b)], FP64: ['float64', (b) => new Float64Array(b)],
  INT8: ['int8', (b) => new Int8Array(b)], INT16: ['int16', (b) => new Int16Array(b)],
  INT32: ['int32', (b) => new Int32Array(b)], INT64: ['int64', (b) => new BigInt64Array(b)],
  UINT8: ['uint8', (b) => new Uint8Array(b)], UINT16: ['uint16', (b) => new Uint16Array(b)],
  UINT32: ['uint32', (b) => new Uint32Array(b)], UINT64: ['uint64', (b) => new BigUint64Array(b)],
  BOOL: ['bool', (b) => new Uint8Array(b)],
  // float16 tensors take the raw half bits.
  FP16: ['float16', (b) => new Uint16Array(b)],
};

export function randomFeeds(info: ModelInfo, batch: number): Record<string, ort.Tensor> {
  const [step] = buildInputSteps(info, { batchSize: batch, inputData: 'random' });
  const feeds: Record<string, ort.Tensor> = {};
  for (const t of step) {
    if (t.datatype === 'BYTES') {
      feeds[t.name] = new ort.Tensor('string', t.values.map(String), t.shape);
      continue;
    }
    const v = VIEW[t.datatype];
    if (!v) throw new Error(`ceiling: unsupported datatype ${t.datatype}`);
    const copy = new Uint8Array(t.raw).buffer; // own, aligned ArrayBuffer
    feeds[t.name] = new ort.Tensor(v[0], v[1](copy) as never, t.shape);
  }
  return feeds;
}
