/**
 * KServe v2 gRPC messages the bench touches, by field number (as proto/grpc_service.proto numbers them).
 * Encoders serve the load generator (requests) and the echo baseline (responses);
 * decoders read metadata, config and statistics replies.
 */
import { PbWriter, pbFields, pbInt64s, pbString, type PbField } from './protobuf.js';
import type { ModelInfo, StatDuration, StatsSnapshot, TensorSpec } from './types.js';

export const GRPC_SERVICE = '/inference.GRPCInferenceService/';

export interface InferInput extends TensorSpec {
  raw: Uint8Array;
}

/** ModelInferRequest with every input as raw_input_contents (what tritonclient sends). */
export function encodeInferRequest(model: string, version: string, inputs: readonly InferInput[], id = ''): Buffer {
  const w = new PbWriter().string(1, model).string(2, version).string(3, id);
  for (const t of inputs) {
    w.message(5, (m) => m.string(1, t.name).string(2, t.datatype).packed(3, t.shape));
  }
  for (const t of inputs) w.bytes(7, t.raw);
  return w.finish();
}

/** ModelMetadataRequest, ModelConfigRequest, ModelStatisticsRequest: name = 1, version = 2. */
export function encodeNameVersion(name: string, version = ''): Buffer {
  return new PbWriter().string(1, name).string(2, version).finish();
}

function decodeTensor(buf: Uint8Array): TensorSpec {
  const t: TensorSpec = { name: '', datatype: '', shape: [] };
  for (const f of pbFields(buf)) {
    if (f.no === 1) t.name = pbString(f);
    else if (f.no === 2) t.datatype = pbString(f);
    else if (f.no === 3) pbInt64s(f, t.shape);
  }
  return t;
}

export function decodeModelMetadata(buf: Uint8Array): Omit<ModelInfo, 'maxBatchSize'> {
  const m: Omit<ModelInfo, 'maxBatchSize'> = { name: '', versions: [], platform: '', inputs: [], outputs: [] };
  for (const f of pbFields(buf)) {
    if (f.no === 1) m.name = pbString(f);
    else if (f.no === 2) m.versions.push(pbString(f));
    else if (f.no === 3) m.platform = pbString(f);
    else if (f.no === 4) m.inputs.push(decodeTensor(f.bytes));
    else if (f.no === 5) m.outputs.push(decodeTensor(f.bytes));
  }
  return m;
}

/** max_batch_size (ModelConfig field 4) out of a ModelConfigResponse (config = 1). */
export function decodeMaxBatchSize(buf: Uint8Array): number {
  for (const f of pbFields(buf)) {
    if (f.no !== 1) continue;
    for (const g of pbFields(f.bytes)) if (g.no === 4) return Number(BigInt.asIntN(32, g.int));
    return 0;
  }
  return 0;
}

function duration(f: PbField): StatDuration {
  const d = { count: 0, ns: 0 };
  for (const g of pbFields(f.bytes)) {
    if (g.no === 1) d.count = Number(g.int);
    else if (g.no === 2) d.ns = Number(g.int);
  }
  return d;
}

export function emptySnapshot(): StatsSnapshot {
  const z = (): StatDuration => ({ count: 0, ns: 0 });
  return {
    inferenceCount: 0, executionCount: 0, success: z(), fail: z(), queue: z(),
    computeInput: z(), computeInfer: z(), computeOutput: z(),
  };
}

function addInto(a: StatDuration, b: StatDuration): void {
  a.count += b.count;
  a.ns += b.ns;
}

/** ModelStatisticsResponse summed over every listed version of the model. */
export function decodeStatistics(buf: Uint8Array): StatsSnapshot {
  const s = emptySnapshot();
  const keys: Record<number, keyof StatsSnapshot> = {
    1: 'success', 2: 'fail', 3: 'queue', 4: 'computeInput', 5: 'computeInfer', 6: 'computeOutput',
  };
  for (const ms of pbFields(buf)) {
    if (ms.no !== 1) continue;
    for (const f of pbFields(ms.bytes)) {
      if (f.no === 4) s.inferenceCount += Number(f.int);
      else if (f.no === 5) s.executionCount += Number(f.int);
      else if (f.no === 6) {
        for (const g of pbFields(f.bytes)) {
          const k = keys[g.no];
          if (k) addInto(s[k] as StatDuration, duration(g));
        }
      }
    }
  }
  return s;
}

export interface DecodedInferResponse {
  modelName: string;
  outputs: TensorSpec[];
  rawOutputs: Uint8Array[];
}

/** Used once per run to check the server answers what the model promises. */
export function decodeInferResponse(buf: Uint8Array): DecodedInferResponse {
  const r: DecodedInferResponse = { modelName: '', outputs: [], rawOutputs: [] };
  for (const f of pbFields(buf)) {
    if (f.no === 1) r.modelName = pbString(f);
    else if (f.no === 5) r.outputs.push(decodeTensor(f.bytes));
    else if (f.no === 6) r.rawOutputs.push(f.bytes);
  }
  return r;
}

// ---- responses, for the echo baseline ------------------------------------------------

function writeTensor(w: PbWriter, field: number, t: TensorSpec): void {
  w.message(field, (m) => m.string(1, t.name).string(2, t.datatype).packed(3, t.shape));
}

export function encodeModelMetadataResponse(m: Omit<ModelInfo, 'maxBatchSize'>): Buffer {
  const w = new PbWriter().string(1, m.name);
  for (const v of m.versions) w.string(2, v);
  w.string(3, m.platform);
  for (const t of m.inputs) writeTensor(w, 4, t);
  for (const t of m.outputs) writeTensor(w, 5, t);
  return w.finish();
}

/** A ModelConfigResponse carrying only name and max_batch_size: all the bench reads. */
export function encodeModelConfigResponse(name: string, maxBatchSize: number): Buffer {
  return new PbWriter().message(1, (c) => c.string(1, name).uint(4, maxBatchSize)).finish();
}

export function encodeInferResponse(model: string, version: string, outputs: readonly InferInput[]): Buffer {
  const w = new PbWriter().string(1, model).string(2, version);
  for (const t of outputs) writeTensor(w, 5, t);
  for (const t of outputs) w.bytes(6, t.raw);
  return w.finish();
}

/** gRPC length-prefixed message: flag byte 0 (uncompressed), uint32 BE length, bytes. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.byteLength);
  frame[0] = 0;
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, 5);
  return frame;
}
