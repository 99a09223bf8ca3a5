/**
 * Request inputs built from model metadata, like perf_analyzer's --input-data:
 * `zero`, `random` (seeded, so runs repeat), or a JSON file in perf_analyzer's format
 * `{"data": [{"<input>": [..] | {"content": [..], "shape": [..]} | {"b64": ".."}}, ...]}`.
 * Each entry becomes one "step"; sends rotate through the steps. Built once per run.
 */
import { readFileSync } from 'node:fs';
import { elementSize, rawToValues, valuesToRaw, type Value } from './tensor-values.js';
import type { ModelInfo, TensorSpec } from './types.js';

export interface InputTensor extends TensorSpec {
  raw: Uint8Array;
  /** The same data as JSON values (flat, row-major). */
  values: Value[];
}

export interface InputOptions {
  batchSize: number;
  /** 'zero' | 'random' | path to a JSON file */
  inputData: string;
  /** Non-batch dims for inputs whose metadata shape has -1 (perf_analyzer's --shape). */
  shapes?: Record<string, number[]>;
  stringLength?: number;
  seed?: number;
}

/** mulberry32: small, fast, seedable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function generate(datatype: string, n: number, mode: 'zero' | 'random', rand: () => number, strLen: number): Value[] {
  const out: Value[] = new Array(n);
  for (let i = 0; i < n; i++) {
    if (mode === 'zero') {
      out[i] = datatype === 'BOOL' ? false : datatype === 'BYTES' ? '' : 0;
    } else if (datatype === 'BOOL') {
      out[i] = rand() < 0.5;
    } else if (datatype === 'BYTES') {
      let s = '';
      for (let k = 0; k < strLen; k++) s += ALNUM[Math.floor(rand() * ALNUM.length)];
      out[i] = s;
    } else if (datatype.startsWith('FP') || datatype === 'BF16') {
      out[i] = Math.round(rand() * 1e4) / 1e4; // 4 decimals keep JSON bodies realistic in size
    } else {
      out[i] = Math.floor(rand() * 100);
    }
  }
  return out;
}

const count = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

function sampleDims(spec: TensorSpec, batching: boolean, shapes: Record<string, number[]>): number[] {
  const dims = batching ? spec.shape.slice(1) : spec.shape.slice();
  if (dims.every((d) => d >= 0)) return dims;
  const given = shapes[spec.name];
  if (!given) throw new Error(`input '${spec.name}' has variable dims [${spec.shape}]; pass --shape ${spec.name}:<dims>`);
  return given;
}

function flatten(v: unknown, into: Value[]): Value[] {
  if (Array.isArray(v)) for (const x of v) flatten(x, into);
  else into.push(v as Value);
  return into;
}

interface Sample {
  dims: number[];
  values: Value[];
}

function fileSamples(path: string, info: ModelInfo, batching: boolean, shapes: Record<string, number[]>): Map<string, Sample>[] {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { data?: unknown[] };
  if (!Array.isArray(doc.data) || doc.data.length === 0) throw new Error(`${path}: expected {"data": [ ... ]}`);
  return doc.data.map((entry, i) => {
    const step = new Map<string, Sample>();
    for (const spec of info.inputs) {
      const v = (entry as Record<string, unknown>)[spec.name];
      if (v === undefined) throw new Error(`${path}: data[${i}] has no input '${spec.name}'`);
      let values: Value[];
      let dims: number[] | undefined;
      if (Array.isArray(v)) values = flatten(v, []);
      else if (v && typeof v === 'object' && 'b64' in v) values = rawToValues(spec.datatype, Buffer.from(String((v as { b64: string }).b64), 'base64'));
      else if (v && typeof v === 'object' && 'content' in v) {
        const o = v as { content: unknown; shape?: number[] };
        values = flatten(o.content, []);
        dims = o.shape;
      } else throw new Error(`${path}: data[${i}].${spec.name} is neither an array, {content}, nor {b64}`);
      dims ??= spec.shape.some((d, k) => d < 0 && !(batching && k === 0)) ? shapes[spec.name] ?? [values.length] : sampleDims(spec, batching, shapes);
      if (spec.datatype !== 'BYTES' && count(dims) !== values.length) {
        throw new Error(`${path}: data[${i}].${spec.name} has ${values.length} values for shape [${dims}]`);
      }
      step.set(spec.name, { dims, values });
    }
    return step;
  });
}

/** One step per data entry; each tensor repeated `batchSize` times along the batch dim. */
export function buildInputSteps(info: ModelInfo, opts: InputOptions): InputTensor[][] {
  const batching = info.maxBatchSize > 0;
  const b = opts.batchSize;
  if (!batching && b !== 1) throw new Error(`model '${info.name}' does not batch; use -b 1`);
  if (batching && b > info.maxBatchSize) throw new Error(`batch size ${b} exceeds max_batch_size ${info.maxBatchSize}`);
  const shapes = opts.shapes ?? {};
  let steps: Map<string, Sample>[];
  if (opts.inputData === 'zero' || opts.inputData === 'random') {
    const rand = rng(opts.seed ?? 1);
    const mode = opts.inputData;
    steps = [new Map(info.inputs.map((spec) => {
      const dims = sampleDims(spec, batching, shapes);
      return [spec.name, { dims, values: generate(spec.datatype, count(dims), mode, rand, opts.stringLength ?? 16) }];
    }))];
  } else {
    steps = fileSamples(opts.inputData, info, batching, shapes);
  }
  return steps.map((step) => info.inputs.map((spec) => {
    const s = step.get(spec.name)!;
    elementSize(spec.datatype); // throws early on a datatype we cannot encode
    const values = batching ? Array.from({ length: b }, () => s.values).flat() : s.values;
    const shape = batching ? [b, ...s.dims] : s.dims;
    return { name: spec.name, datatype: spec.datatype, shape, values, raw: valuesToRaw(spec.datatype, values) };
  }));
}
