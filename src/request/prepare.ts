/**
 * Check a decoded request against the model's frozen config and turn it into the
 * model-facing inputs the batcher concatenates. Messages follow Triton's wording
 * (clients and tests match on them).
 */
import { checkModelStrings, checkRawSize } from '../codec/raw.js';
import { checkReservedParameters } from '../codec/reserved-params.js';
import { configDataTypeToWire as wireDataType } from '../config/datatype.js';
import type { ModelConfig, ModelInputConfig } from '../config/model-config.js';
import { InvalidArgument } from '../errors/errors.js';
import type { InferenceRequest, RequestedOutput } from '../types/inference.js';
import type { DataType } from '../types/tensor.js';

export interface PreparedInput {
  name: string;
  datatype: DataType;
  /** Shape the model sees (reshape applied), batch dim included when batching. */
  shape: number[];
  data: Uint8Array;
}

export interface PreparedRequest {
  /** In config input order. */
  inputs: PreparedInput[];
  /** Output names to fetch, in response order. */
  outputs: RequestedOutput[];
  batchSize: number;
  /** Requests with equal keys may share a batch (non-batch shapes). */
  shapeKey: string;
}

const fmt = (s: readonly number[]) => `[${s.join(',')}]`;

function dimsMatch(expected: readonly number[], got: readonly number[]): boolean {
  if (expected.length !== got.length) return false;
  for (let i = 0; i < expected.length; i++) if (expected[i] !== -1 && expected[i] !== got[i]) return false;
  return true;
}


function checkInput(cfg: Readonly<ModelConfig>, ic: Readonly<ModelInputConfig>, req: InferenceRequest, idx: number): PreparedInput {
  const t = req.inputs[idx]!;
  const want = wireDataType(ic.data_type);
  if (t.datatype !== want) {
    throw new InvalidArgument(`inference input '${t.name}' data-type is '${t.datatype}', but model '${cfg.name}' expects '${want}'`);
  }
  for (const d of t.shape) {
    if (!Number.isInteger(d) || d < 0) throw new InvalidArgument(`unexpected shape for input '${t.name}' for model '${cfg.name}'. Expected ${fmt(fullDims(cfg, ic.dims))}, got ${fmt(t.shape)}. `);
  }
  if (!dimsMatch(fullDims(cfg, ic.dims), t.shape)) {
    throw new InvalidArgument(`unexpected shape for input '${t.name}' for model '${cfg.name}'. Expected ${fmt(fullDims(cfg, ic.dims))}, got ${fmt(t.shape)}. `);
  }
  checkRawSize(t.datatype, t.shape, t.data, t.name);
  if (t.datatype === 'BYTES') checkModelStrings(t.data, t.name, cfg.name);
  let shape = t.shape;
  if (ic.reshape !== undefined) shape = cfg.max_batch_size > 0 ? [t.shape[0]!, ...ic.reshape.shape] : ic.reshape.shape.slice();
  return { name: t.name, datatype: t.datatype, shape, data: t.data };
}

function fullDims(cfg: Readonly<ModelConfig>, dims: readonly number[]): number[] {
  return cfg.max_batch_size > 0 ? [-1, ...dims] : dims.slice();
}

/**
 * Triton keeps a request's requested outputs in a set: a name asked for twice is
 * answered once, with its first entry's parameters (and a client cannot make the
 * server compute and send one output many times over).
 */
function uniqueOutputs(requested: RequestedOutput[]): RequestedOutput[] {
  const n = requested.length;
  if (n === 1) return requested;
  let out: RequestedOutput[] | undefined;
  const seen = n > 8 ? new Set<string>() : undefined;
  for (let i = 0; i < n; i++) {
    const o = requested[i]!;
    let dup = false;
    if (seen !== undefined) {
      dup = seen.has(o.name);
      seen.add(o.name);
    } else {
      for (let j = 0; j < i && !dup; j++) dup = requested[j]!.name === o.name;
    }
    if (dup) out ??= requested.slice(0, i);
    else out?.push(o);
  }
  return out ?? requested;
}

export function prepare(cfg: Readonly<ModelConfig>, req: InferenceRequest): PreparedRequest {
  checkReservedParameters(req.parameters);
  const byName = new Map<string, number>();
  for (let i = 0; i < req.inputs.length; i++) {
    const n = req.inputs[i]!.name;
    if (byName.has(n)) throw new InvalidArgument(`input '${n}' is specified more than once for model '${cfg.name}'`);
    byName.set(n, i);
  }
  for (const t of req.inputs) {
    if (!cfg.input.some((c) => c.name === t.name)) throw new InvalidArgument(`unexpected inference input '${t.name}' for model '${cfg.name}'`);
  }
  const missing = cfg.input.filter((c) => !c.optional && !byName.has(c.name)).map((c) => c.name);
  if (missing.length > 0) {
    const got = req.inputs.map((t) => `'${t.name}'`).join(',');
    const required = cfg.input.filter((c) => !c.optional).length;
    throw new InvalidArgument(`expected ${required} inputs but got ${req.inputs.length} inputs for model '${cfg.name}'. Got input(s) [${got}], but missing required input(s) [${missing.map((m) => `'${m}'`).join(',')}]. Please provide all required input(s).`);
  }
  const inputs: PreparedInput[] = [];
  for (const ic of cfg.input) {
    const idx = byName.get(ic.name);
    if (idx !== undefined) inputs.push(checkInput(cfg, ic, req, idx));
  }
  let batchSize = 1;
  if (cfg.max_batch_size > 0) {
    batchSize = inputs[0]?.shape[0] ?? 1;
    for (const p of inputs) {
      if (p.shape[0] !== batchSize) throw new InvalidArgument(`input '${p.name}' batch size does not match other inputs for '${cfg.name}'`);
    }
    if (batchSize < 1 || batchSize > cfg.max_batch_size) {
      throw new InvalidArgument(`inference request batch-size must be <= ${cfg.max_batch_size} for '${cfg.name}'`);
    }
  }
  let outputs: RequestedOutput[];
  if (req.outputs === undefined || req.outputs.length === 0) {
    outputs = cfg.output.map((o) => ({ name: o.name }));
  } else {
    outputs = uniqueOutputs(req.outputs);
    for (const o of outputs) {
      if (!cfg.output.some((c) => c.name === o.name)) throw new InvalidArgument(`unexpected inference output '${o.name}' for model '${cfg.name}'`);
    }
  }
  let shapeKey = '';
  for (const p of inputs) shapeKey += `${p.name}:${(cfg.max_batch_size > 0 ? p.shape.slice(1) : p.shape).join('x')};`;
  return { inputs, outputs, batchSize, shapeKey };
}
