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
 * The reference each feature's PSI is taken against (a `drift_reference.json` file,
 * or the first full window after load) is drift-reference.ts's job.
 *
 * Variable-sized dimensions (-1 past the batch dimension) and BYTES tensors are not
 * tracked.
 */
import type { ModelConfig } from '../config/model-config.js';
import { configDataTypeToWire as wireDataType } from '../config/datatype.js';
import type { PreparedRequest } from '../request/prepare.js';
import type { DataType, Tensor } from '../types/tensor.js';
import { type FeatureReference, type ReferenceTable, binOf, buildReference, psi } from './drift-reference.js';
import type { Emit, Labels } from './families.js';

export interface DriftOptions {
  features: number;
  window: number;
  sampleEvery: number;
  bins: number;
}

export const DRIFT_DEFAULTS: Readonly<DriftOptions> = Object.freeze({ features: 16, window: 1024, sampleEvery: 1, bins: 10 });

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

