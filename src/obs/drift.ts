/**
 * Drift statistics per model version: for each numeric input and output tensor,
 * for its first N flattened element positions past the batch dimension
 * ("features"), a sliding window of the last W sampled rows, and from it count,
 * mean, standard deviation, min, max, NaN/Inf count and the population stability
 * index (PSI) against a reference distribution.
 *
 * Cost split (all on the main thread):
 * - Request path (`sampleInputs` after validation, `sampleOutputs` after the
 *   response is built): for every `sampleEvery`-th row, copy N values per tracked
 *   tensor into a preallocated Float64Array ring (one DataView per tensor per
 *   request, no other allocation). Bounded by min(rows, W) x N reads per tensor.
 * - Off the request path: the reference (when it comes from the first window) is
 *   built in a setImmediate job once the ring first fills; the statistics are
 *   computed when /metrics is scraped (O(W x N) per tensor, only if new rows came).
 *
 * Configured per model through config.pbtxt `parameters` (string values):
 *   osprey_drift              "false" turns it off for the model (default on)
 *   osprey_drift_features     N, features tracked per tensor (default 16)
 *   osprey_drift_window       W, rows in the sliding window (default 1024)
 *   osprey_drift_sample_every k, sample every k-th row (default 1)
 *   osprey_drift_bins         reference bins built from the first window (default 10)
 *
 * Reference file: `drift_reference.json` in the version folder, else in the model
 * folder. Format (features are positions in the flattened row, 0-based):
 *   { "inputs":  { "<input name>":  { "<feature>": { "edges": [e1, ..., ek], "proportions": [p0, ..., pk] } } },
 *     "outputs": { "<output name>": { ... } } }
 * (a tensor's features may also be given as an array indexed by feature, with null
 * for gaps). k inner edges, strictly increasing, make k+1 bins: (-inf, e1],
 * (e1, e2], ..., (ek, +inf); proportions are the reference share of each bin and
 * are normalized to sum 1. Features the file does not name take their reference
 * from the first full window after load, like everything when there is no file.
 * `buildReference` below makes such an entry from sample values.
 *
 * Variable-sized dimensions (-1 past the batch dimension) and BYTES tensors are not
 * tracked.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelConfig } from '../config/model-config.js';
import { configDataTypeToWire as wireDataType } from '../config/datatype.js';
import type { PreparedRequest } from '../request/prepare.js';
import type { DataType, Tensor } from '../types/tensor.js';
import type { Emit, Labels } from './families.js';

export interface DriftOptions {
  features: number;
  window: number;
  sampleEvery: number;
  bins: number;
}

export const DRIFT_DEFAULTS: Readonly<DriftOptions> = Object.freeze({ features: 16, window: 1024, sampleEvery: 1, bins: 10 });
export const REFERENCE_FILE = 'drift_reference.json';
/** Floor for a bin share in the PSI sum, so an empty bin does not make it infinite. */
const PSI_EPSILON = 1e-4;

export interface FeatureReference {
  /** Inner bin edges, strictly increasing. */
  edges: Float64Array;
  /** Reference share per bin (edges.length + 1 of them), summing to 1. */
  proportions: Float64Array;
}

export interface FeatureStats {
  tensor: string;
  feature: number;
  /** Finite values in the window. */
  count: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  /** NaN and +/-Inf values in the window. */
  nanCount: number;
  /** NaN until a reference exists. */
  psi: number;
}

/**
 * Options from the model config; undefined when drift is off for the model.
 * Bad values fall back to the default and are reported in `warnings`.
 */
export function driftOptions(cfg: Readonly<ModelConfig>, warnings: string[] = []): DriftOptions | undefined {
  const p = cfg.parameters ?? {};
  const flag = p.osprey_drift?.string_value;
  if (flag !== undefined && flag.trim().toLowerCase() === 'false') return undefined;
  const int = (key: string, def: number, min: number, max: number): number => {
    const raw = p[key]?.string_value;
    if (raw === undefined) return def;
    const n = Number(raw.trim());
    if (!Number.isInteger(n) || n < min || n > max) {
      warnings.push(`parameter '${key}' must be an integer in [${min}, ${max}], got '${raw}'; using ${def}`);
      return def;
    }
    return n;
  };
  return {
    features: int('osprey_drift_features', DRIFT_DEFAULTS.features, 1, 1024),
    window: int('osprey_drift_window', DRIFT_DEFAULTS.window, 16, 1 << 20),
    sampleEvery: int('osprey_drift_sample_every', DRIFT_DEFAULTS.sampleEvery, 1, 1 << 30),
    bins: int('osprey_drift_bins', DRIFT_DEFAULTS.bins, 2, 100),
  };
}

// Element readers, chosen once per tensor; the copy loop switches on this code.
const enum Kind { F32, F64, I8, U8, I16, U16, I32, U32, I64, U64, BOOL, F16, BF16 }

const KINDS: Partial<Record<DataType, [Kind, number]>> = {
  FP32: [Kind.F32, 4], FP64: [Kind.F64, 8], INT8: [Kind.I8, 1], UINT8: [Kind.U8, 1], INT16: [Kind.I16, 2],
  UINT16: [Kind.U16, 2], INT32: [Kind.I32, 4], UINT32: [Kind.U32, 4], INT64: [Kind.I64, 8], UINT64: [Kind.U64, 8],
  BOOL: [Kind.BOOL, 1], FP16: [Kind.F16, 2], BF16: [Kind.BF16, 2],
};

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m === 0 ? s * Infinity : NaN;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function bf16ToFloat(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

/** Reference bins for one feature from sample values: quantile edges, exact shares. */
export function buildReference(values: ArrayLike<number>, bins: number): FeatureReference | undefined {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) n++;
  if (n === 0) return undefined;
  const finite = new Float64Array(n);
  n = 0;
  for (let i = 0; i < values.length; i++) { const x = values[i]!; if (Number.isFinite(x)) finite[n++] = x; }
  finite.sort(); // typed arrays sort numerically
  const edges: number[] = [];
  for (let b = 1; b < bins; b++) {
    const e = finite[Math.min(finite.length - 1, Math.floor((b * finite.length) / bins))]!;
    if (edges.length === 0 || e > edges[edges.length - 1]!) edges.push(e);
  }
  const ref: FeatureReference = { edges: Float64Array.from(edges), proportions: new Float64Array(edges.length + 1) };
  for (const x of finite) ref.proportions[binOf(ref.edges, x)]!++;
  for (let i = 0; i < ref.proportions.length; i++) ref.proportions[i]! /= finite.length;
  return ref;
}

/** Index of the bin (edges[i-1], edges[i]] holding x. */
function binOf(edges: Float64Array, x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x <= edges[mid]!) hi = mid; else lo = mid + 1;
  }
  return lo;
}

/** PSI = sum over bins of (actual - expected) * ln(actual / expected). */
export function psi(ref: FeatureReference, counts: Float64Array, total: number): number {
  if (total === 0) return NaN;
  let s = 0;
  for (let i = 0; i < counts.length; i++) {
    const a = Math.max(counts[i]! / total, PSI_EPSILON);
    const e = Math.max(ref.proportions[i]!, PSI_EPSILON);
    s += (a - e) * Math.log(a / e);
  }
  return s;
}

/** Parse one feature entry of a reference file; throws with the reason. */
function parseFeatureReference(raw: unknown, where: string): FeatureReference {
  if (typeof raw !== 'object' || raw === null) throw new Error(`${where}: expected an object with edges and proportions`);
  const { edges, proportions } = raw as { edges?: unknown; proportions?: unknown };
  if (!Array.isArray(edges) || !edges.every((e) => typeof e === 'number' && Number.isFinite(e))) throw new Error(`${where}: edges must be an array of finite numbers`);
  for (let i = 1; i < edges.length; i++) if (!(edges[i] > edges[i - 1])) throw new Error(`${where}: edges must be strictly increasing`);
  if (!Array.isArray(proportions) || proportions.length !== edges.length + 1) throw new Error(`${where}: proportions must have edges.length + 1 = ${edges.length + 1} entries`);
  if (!proportions.every((p) => typeof p === 'number' && Number.isFinite(p) && p >= 0)) throw new Error(`${where}: proportions must be non-negative numbers`);
  const sum = (proportions as number[]).reduce((a, b) => a + b, 0);
  if (sum <= 0) throw new Error(`${where}: proportions must not all be 0`);
  return { edges: Float64Array.from(edges as number[]), proportions: Float64Array.from(proportions as number[], (p) => p / sum) };
}

/** tensor name -> feature -> reference, for one side (inputs or outputs). */
export type ReferenceTable = Map<string, Map<number, FeatureReference>>;

/** Parse a whole reference file's JSON text; throws with the reason. */
export function parseReferenceFile(text: string): { inputs: ReferenceTable; outputs: ReferenceTable } {
  const doc: unknown = JSON.parse(text);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('expected a JSON object with "inputs" and/or "outputs"');
  const side = (key: 'inputs' | 'outputs'): ReferenceTable => {
    const out: ReferenceTable = new Map();
    const raw = (doc as Record<string, unknown>)[key];
    if (raw === undefined) return out;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`"${key}" must be an object keyed by tensor name`);
    for (const [tensor, feats] of Object.entries(raw)) {
      const m = new Map<number, FeatureReference>();
      const entries: Array<[string, unknown]> = Array.isArray(feats) ? feats.map((f, i) => [String(i), f]) : Object.entries(feats ?? {});
      if (typeof feats !== 'object' || feats === null) throw new Error(`${key}.${tensor}: expected an object or array of features`);
      for (const [k, f] of entries) {
        if (f === null) continue;
        const idx = Number(k);
        if (!Number.isInteger(idx) || idx < 0) throw new Error(`${key}.${tensor}: feature key '${k}' is not a non-negative integer`);
        m.set(idx, parseFeatureReference(f, `${key}.${tensor}[${k}]`));
      }
      out.set(tensor, m);
    }
    return out;
  };
  return { inputs: side('inputs'), outputs: side('outputs') };
}

/** Sliding window over one tensor's first `features` positions. Main thread only. */
export class TensorDrift {
  readonly name: string;
  /** Label value: the name, or `<name>:output` if an input has the same name. */
  readonly label: string;
  readonly features: number;
  readonly window: number;
  /** Elements per row (past the batch dimension). */
  readonly rowElems: number;
  readonly #kind: Kind;
  readonly #size: number;
  readonly #every: number;
  /** window x features, row-major; row `#pos` is written next. */
  readonly #ring: Float64Array;
  #pos = 0;
  #filled = 0;
  /** Rows to skip before the next sampled one (sampling every k-th row across requests). */
  #skip = 0;
  /** Rows sampled since load. */
  rows = 0;
  #dirty = true;
  #stats: FeatureStats[] = [];
  readonly references: Array<FeatureReference | undefined>;
  /** Features still without a reference, and the row count at which to try building them. */
  #missing: number;
  #refAt: number;
  readonly #bins: number;
  readonly #scratch: Float64Array;

  constructor(name: string, label: string, datatype: DataType, rowElems: number, o: DriftOptions, refs: Map<number, FeatureReference> | undefined) {
    const k = KINDS[datatype]!;
    this.name = name;
    this.label = label;
    this.#kind = k[0];
    this.#size = k[1];
    this.rowElems = rowElems;
    this.features = Math.min(o.features, rowElems);
    this.window = o.window;
    this.#every = o.sampleEvery;
    this.#bins = o.bins;
    this.#ring = new Float64Array(this.window * this.features);
    this.#scratch = new Float64Array(this.window);
    this.references = Array.from({ length: this.features }, (_, f) => refs?.get(f));
    this.#missing = this.references.filter((r) => r === undefined).length;
    this.#refAt = this.window;
  }

  /**
   * True when some feature waits for a first-window reference and a full window
   * came in since the last attempt (a feature with no finite value yet gets
   * none, and is retried one window later).
   */
  get needsReference(): boolean {
    return this.#missing > 0 && this.rows >= this.#refAt;
  }

  /**
   * Copy the sampled rows of one tensor into the ring. Request path: `data` holds
   * `rows` rows in Triton's raw layout; it is only read, not kept.
   */
  sample(data: Uint8Array, rows: number): void {
    let r = this.#skip;
    if (r >= rows) { this.#skip = r - rows; return; }
    const rowBytes = this.rowElems * this.#size;
    if (data.byteLength < rows * rowBytes) return;
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const every = this.#every;
    const n = this.features;
    const ring = this.#ring;
    // More rows than the window holds would only overwrite each other: skip ahead.
    const sampled = Math.ceil((rows - r) / every);
    if (sampled > this.window) r += (sampled - this.window) * every;
    const w = this.window;
    let pos = this.#pos;
    let written = 0;
    for (; r < rows; r += every) {
      const o = pos * n;
      const b = r * rowBytes;
      switch (this.#kind) {
        case Kind.F32: for (let f = 0; f < n; f++) ring[o + f] = dv.getFloat32(b + f * 4, true); break;
        case Kind.F64: for (let f = 0; f < n; f++) ring[o + f] = dv.getFloat64(b + f * 8, true); break;
        case Kind.I8: for (let f = 0; f < n; f++) ring[o + f] = dv.getInt8(b + f); break;
        case Kind.U8: for (let f = 0; f < n; f++) ring[o + f] = dv.getUint8(b + f); break;
        case Kind.I16: for (let f = 0; f < n; f++) ring[o + f] = dv.getInt16(b + f * 2, true); break;
        case Kind.U16: for (let f = 0; f < n; f++) ring[o + f] = dv.getUint16(b + f * 2, true); break;
        case Kind.I32: for (let f = 0; f < n; f++) ring[o + f] = dv.getInt32(b + f * 4, true); break;
        case Kind.U32: for (let f = 0; f < n; f++) ring[o + f] = dv.getUint32(b + f * 4, true); break;
        case Kind.I64: for (let f = 0; f < n; f++) ring[o + f] = Number(dv.getBigInt64(b + f * 8, true)); break;
        case Kind.U64: for (let f = 0; f < n; f++) ring[o + f] = Number(dv.getBigUint64(b + f * 8, true)); break;
        case Kind.BOOL: for (let f = 0; f < n; f++) ring[o + f] = dv.getUint8(b + f) !== 0 ? 1 : 0; break;
        case Kind.F16: for (let f = 0; f < n; f++) ring[o + f] = halfToFloat(dv.getUint16(b + f * 2, true)); break;
        case Kind.BF16: for (let f = 0; f < n; f++) ring[o + f] = bf16ToFloat(dv.getUint16(b + f * 2, true)); break;
      }
      pos = pos + 1 === w ? 0 : pos + 1;
      written++;
    }
    this.#pos = pos;
    this.#filled = Math.min(w, this.#filled + written);
    this.rows += written;
    this.#skip = r - rows;
    this.#dirty = true;
  }

  /** Off the request path: reference for every feature that has none, from the window. */
  buildMissingReferences(): void {
    for (let f = 0; f < this.features; f++) {
      if (this.references[f] !== undefined) continue;
      this.references[f] = buildReference(this.#column(f), this.#bins);
    }
    this.#missing = this.references.filter((r) => r === undefined).length;
    this.#refAt = this.rows + this.window;
    this.#dirty = true;
  }

  #column(f: number): Float64Array {
    const n = this.features;
    const col = this.#scratch.subarray(0, this.#filled);
    for (let r = 0; r < this.#filled; r++) col[r] = this.#ring[r * n + f]!;
    return col;
  }

  /** Statistics over the current window (recomputed only when rows came in). */
  stats(): readonly FeatureStats[] {
    if (!this.#dirty) return this.#stats;
    const out: FeatureStats[] = [];
    const rows = this.#filled;
    const n = this.features;
    const ring = this.#ring;
    for (let f = 0; f < n; f++) {
      let count = 0;
      let sum = 0;
      let nan = 0;
      let min = Infinity;
      let max = -Infinity;
      for (let r = 0; r < rows; r++) {
        const x = ring[r * n + f]!;
        if (!Number.isFinite(x)) { nan++; continue; }
        count++;
        sum += x;
        if (x < min) min = x;
        if (x > max) max = x;
      }
      const mean = count > 0 ? sum / count : NaN;
      let sq = 0;
      for (let r = 0; r < rows; r++) {
        const x = ring[r * n + f]!;
        if (Number.isFinite(x)) sq += (x - mean) * (x - mean);
      }
      let p = NaN;
      const ref = this.references[f];
      if (ref !== undefined && count > 0) {
        const counts = new Float64Array(ref.proportions.length);
        for (let r = 0; r < rows; r++) {
          const x = ring[r * n + f]!;
          if (Number.isFinite(x)) counts[binOf(ref.edges, x)]!++;
        }
        p = psi(ref, counts, count);
      }
      out.push({
        tensor: this.label, feature: f, count, mean, std: count > 0 ? Math.sqrt(sq / count) : NaN,
        min: count > 0 ? min : NaN, max: count > 0 ? max : NaN, nanCount: nan, psi: p,
      });
    }
    this.#stats = out;
    this.#dirty = false;
    return out;
  }
}

function rowElements(cfg: Readonly<ModelConfig>, dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) { if (d < 0) return -1; n *= d; }
  // Non-batching models: the whole tensor is one row.
  return cfg.max_batch_size > 0 || dims.length > 0 ? n : 1;
}

/**
 * Drift tracking for one model version. Created when the version becomes READY,
 * closed when it is retired. Main thread only.
 */
export class VersionDrift {
  readonly batched: boolean;
  /** Indexed like config.input; undefined where not tracked. */
  readonly inputs: ReadonlyArray<TensorDrift | undefined>;
  readonly outputs: readonly TensorDrift[];
  readonly all: readonly TensorDrift[];
  readonly #inputNames: readonly string[];
  #refJob: NodeJS.Immediate | undefined = undefined;
  #closed = false;

  constructor(cfg: Readonly<ModelConfig>, o: DriftOptions, refs?: { inputs: ReferenceTable; outputs: ReferenceTable }) {
    this.batched = cfg.max_batch_size > 0;
    const inNames = new Set(cfg.input.map((c) => c.name));
    const track = (name: string, label: string, t: ModelConfig['input'][number]['data_type'], dims: readonly number[], r: ReferenceTable | undefined): TensorDrift | undefined => {
      const dt = wireDataType(t);
      if (KINDS[dt] === undefined) return undefined;
      const rowElems = rowElements(cfg, dims);
      if (rowElems <= 0) return undefined;
      return new TensorDrift(name, label, dt, rowElems, o, r?.get(name));
    };
    this.inputs = cfg.input.map((c) => track(c.name, c.name, c.data_type, c.dims, refs?.inputs));
    this.#inputNames = cfg.input.map((c) => c.name);
    this.outputs = cfg.output
      .map((c) => track(c.name, inNames.has(c.name) ? `${c.name}:output` : c.name, c.data_type, c.dims, refs?.outputs))
      .filter((t): t is TensorDrift => t !== undefined);
    this.all = [...this.inputs.filter((t): t is TensorDrift => t !== undefined), ...this.outputs];
  }

  /** Request path, after validation: `p.inputs` are in config order (optional ones may be absent). */
  sampleInputs(p: PreparedRequest): void {
    const rows = this.batched ? p.batchSize : 1;
    const ins = p.inputs;
    for (let i = 0; i < ins.length; i++) {
      const pi = ins[i]!;
      let t = this.inputs[i];
      if (this.#inputNames[i] !== pi.name) t = this.inputs[this.#inputNames.indexOf(pi.name)];
      if (t === undefined) continue;
      t.sample(pi.data, rows);
      if (t.needsReference) this.#scheduleReferences();
    }
  }

  /** Request path, after the outputs are shaped: outputs in requested order. */
  sampleOutputs(outputs: readonly Tensor[], rows: number): void {
    const outs = this.outputs;
    for (let j = 0; j < outs.length; j++) {
      const t = outs[j]!;
      for (let i = 0; i < outputs.length; i++) {
        const o = outputs[i]!;
        if (o.name !== t.name) continue;
        // A classification output is BYTES now: its raw values are not there.
        if (o.datatype !== 'BYTES') t.sample(o.data, this.batched ? rows : 1);
        if (t.needsReference) this.#scheduleReferences();
        break;
      }
    }
  }

  #scheduleReferences(): void {
    if (this.#refJob !== undefined || this.#closed) return;
    this.#refJob = setImmediate(() => {
      this.#refJob = undefined;
      if (this.#closed) return;
      for (const t of this.all) if (t.needsReference) t.buildMissingReferences();
    });
  }

  /** Gauges for this version (scrape time). */
  emit(labels: Labels, sink: DriftEmitters): void {
    for (const t of this.all) {
      for (const s of t.stats()) {
        const l = { ...labels, tensor: s.tensor, feature: String(s.feature) };
        sink.count(l, s.count);
        sink.nanCount(l, s.nanCount);
        if (s.count > 0) {
          sink.mean(l, s.mean);
          sink.std(l, s.std);
          sink.min(l, s.min);
          sink.max(l, s.max);
        }
        if (!Number.isNaN(s.psi)) sink.psi(l, s.psi);
      }
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#refJob !== undefined) clearImmediate(this.#refJob);
    this.#refJob = undefined;
  }
}

export interface DriftEmitters {
  count: Emit; nanCount: Emit; mean: Emit; std: Emit; min: Emit; max: Emit; psi: Emit;
}

/**
 * Read `drift_reference.json` from the version folder or the model folder.
 * Returns undefined when there is none; throws with the reason when it is invalid.
 */
export function readReferenceFile(modelDir: string, version: string): { path: string; table: { inputs: ReferenceTable; outputs: ReferenceTable } } | undefined {
  for (const path of [join(modelDir, version, REFERENCE_FILE), join(modelDir, REFERENCE_FILE)]) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    try {
      return { path, table: parseReferenceFile(text) };
    } catch (err) {
      throw new Error(`${path}: ${(err as Error).message}`);
    }
  }
  return undefined;
}
