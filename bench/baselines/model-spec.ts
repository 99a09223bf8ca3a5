/**
 * What the baselines serve for a model, read from the same model repository as
 * Osprey: tensor names, KServe datatypes, dims (batch dim excluded) and max_batch_size.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelInfo, TensorSpec } from '../loadgen/types.js';
import { parsePbtxt, type PbtxtMessage, type PbtxtValue } from './pbtxt.js';

export interface ModelSpec {
  name: string;
  maxBatchSize: number;
  /** dims exclude the batch dimension when maxBatchSize > 0. */
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  onnxPath: string;
  version: string;
}

const kserveType = (t: string): string => (t === 'TYPE_STRING' ? 'BYTES' : t.replace(/^TYPE_/, ''));

function tensors(list: PbtxtValue[] | undefined): TensorSpec[] {
  return (list ?? []).map((v) => {
    const m = v as PbtxtMessage;
    return { name: String(m.name?.[0]), datatype: kserveType(String(m.data_type?.[0])), shape: (m.dims ?? []).map(Number) };
  });
}

/** Latest numeric version directory holding model.onnx. */
export function loadModelSpec(repo: string, model: string): ModelSpec {
  const dir = join(repo, model);
  const cfg = parsePbtxt(readFileSync(join(dir, 'config.pbtxt'), 'utf8'));
  const versions = readdirNumeric(dir).filter((v) => existsSync(join(dir, v, 'model.onnx')));
  if (versions.length === 0) throw new Error(`${dir}: no <version>/model.onnx`);
  const version = versions[versions.length - 1];
  return {
    name: model,
    maxBatchSize: Number(cfg.max_batch_size?.[0] ?? 0),
    inputs: tensors(cfg.input),
    outputs: tensors(cfg.output),
    onnxPath: join(dir, version, 'model.onnx'),
    version,
  };
}

function readdirNumeric(dir: string): string[] {
  return readdirSync(dir).filter((d) => /^[1-9]\d*$/.test(d)).sort((a, b) => Number(a) - Number(b));
}

/** KServe metadata: -1 in front of every shape when the model batches. */
export function metadataOf(spec: ModelSpec, platform = 'onnxruntime_onnx'): Omit<ModelInfo, 'maxBatchSize'> {
  const shape = (t: TensorSpec): number[] => (spec.maxBatchSize > 0 ? [-1, ...t.shape] : t.shape);
  return {
    name: spec.name,
    versions: [spec.version],
    platform,
    inputs: spec.inputs.map((t) => ({ ...t, shape: shape(t) })),
    outputs: spec.outputs.map((t) => ({ ...t, shape: shape(t) })),
  };
}
