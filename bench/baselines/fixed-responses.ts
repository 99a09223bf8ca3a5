/**
 * Prebuilt infer responses for the echo baseline: zero-filled outputs of a batch-1
 * request, as KServe JSON, as the HTTP binary extension, and as a protobuf message.
 * Built once at start so the echo server does no work per request beyond framing.
 */
import { encodeInferResponse, encodeModelConfigResponse, encodeModelMetadataResponse } from '../loadgen/kserve-pb.js';
import { elementSize } from '../loadgen/tensor-values.js';
import { metadataOf, type ModelSpec } from './model-spec.js';

export interface FixedResponses {
  metadataJson: string;
  configJson: string;
  json: Buffer;
  binary: Buffer;
  binaryHeaderLength: number;
  grpcInfer: Buffer;
  grpcMetadata: Buffer;
  grpcConfig: Buffer;
}

export function fixedResponses(spec: ModelSpec): FixedResponses {
  const shapeOf = (dims: number[]): number[] => (spec.maxBatchSize > 0 ? [1, ...dims] : dims);
  const outputs = spec.outputs.map((o) => {
    const shape = shapeOf(o.shape);
    const n = shape.reduce((a, b) => a * b, 1);
    // BYTES: n empty strings, each a 4-byte zero length.
    const raw = Buffer.alloc(o.datatype === 'BYTES' ? 4 * n : n * elementSize(o.datatype));
    return { name: o.name, datatype: o.datatype, shape, raw, n };
  });
  const base = { model_name: spec.name, model_version: spec.version };
  const json = Buffer.from(JSON.stringify({
    ...base,
    outputs: outputs.map((o) => ({
      name: o.name, datatype: o.datatype, shape: o.shape,
      data: new Array(o.n).fill(o.datatype === 'BYTES' ? '' : o.datatype === 'BOOL' ? false : 0),
    })),
  }));
  const header = Buffer.from(JSON.stringify({
    ...base,
    outputs: outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape, parameters: { binary_data_size: o.raw.length } })),
  }));
  const meta = metadataOf(spec);
  return {
    metadataJson: JSON.stringify(meta),
    configJson: JSON.stringify({ name: spec.name, max_batch_size: spec.maxBatchSize }),
    json,
    binary: Buffer.concat([header, ...outputs.map((o) => o.raw)]),
    binaryHeaderLength: header.length,
    grpcInfer: encodeInferResponse(spec.name, spec.version, outputs),
    grpcMetadata: encodeModelMetadataResponse(meta),
    grpcConfig: encodeModelConfigResponse(spec.name, spec.maxBatchSize),
  };
}
