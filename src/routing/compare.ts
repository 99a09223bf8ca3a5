/**
 * Shadow vs primary output comparison, accumulated per (model, primary version,
 * shadow version). Runs on the main thread after a shadow finishes, off the
 * request path (the primary's answer was sent before the shadow started).
 *
 * Per pair: how many requests were compared and how many matched exactly (every
 * output byte-identical). Per output name: max and mean absolute difference over
 * every element compared (numeric types; BYTES only counts exact matches), and for
 * classifier-like outputs (floating point, 2-D [batch, classes] with classes >= 2)
 * the share of rows whose top class (argmax) differs.
 */
import type { DataType, Tensor } from '../types/tensor.js';

export interface OutputDiff {
  name: string;
  /** Max |primary - shadow| over the request's elements; 0 when exact, NaN when not comparable. */
  maxAbs: number;
  /** Rows whose argmax differs (classifier-like outputs), and rows compared. */
  topDiffers: number;
  topRows: number;
  exact: boolean;
  /** First row whose top class differs: the two classes, for the disagreement log. */
  topPrimary?: number;
  topShadow?: number;
}

export interface OutputStats {
  name: string;
  compared: number;
  exact: number;
  /** Shape or datatype differed: counted here, not in the differences. */
  mismatched: number;
  elements: number;
  sumAbs: number;
  maxAbs: number;
  topRows: number;
  topDiffers: number;
}

export interface ComparisonSnapshot {
  /** Requests compared. */
  compared: number;
  exact_matches: number;
  exact_match_rate: number;
  /** Over classifier-like outputs; null when the model has none. */
  top_class_rows: number;
  top_class_disagreements: number;
  top_class_disagreement_rate: number | null;
  outputs: Array<{
    name: string;
    compared: number;
    exact_match_rate: number;
    max_abs_diff: number;
    mean_abs_diff: number;
    mismatched: number;
    top_class_disagreement_rate: number | null;
  }>;
}

const FLOAT_TYPES: ReadonlySet<DataType> = new Set<DataType>(['FP16', 'BF16', 'FP32', 'FP64']);

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f === 0 ? s * Infinity : NaN;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** The tensor's elements as numbers (a copy when unaligned); undefined for BYTES. */
export function numbers(t: Tensor): ArrayLike<number> | undefined {
  const d = t.data;
  const aligned = (size: number): ArrayBuffer => (d.byteOffset % size === 0 ? d.buffer as ArrayBuffer : d.slice().buffer);
  const off = (size: number) => (d.byteOffset % size === 0 ? d.byteOffset : 0);
  const len = (size: number) => Math.floor(d.byteLength / size);
  switch (t.datatype) {
    case 'BOOL': case 'UINT8': return d;
    case 'INT8': return new Int8Array(d.buffer, d.byteOffset, d.byteLength);
    case 'INT16': return new Int16Array(aligned(2), off(2), len(2));
    case 'UINT16': return new Uint16Array(aligned(2), off(2), len(2));
    case 'INT32': return new Int32Array(aligned(4), off(4), len(4));
    case 'UINT32': return new Uint32Array(aligned(4), off(4), len(4));
    case 'FP32': return new Float32Array(aligned(4), off(4), len(4));
    case 'FP64': return new Float64Array(aligned(8), off(8), len(8));
    case 'INT64': return Array.from(new BigInt64Array(aligned(8), off(8), len(8)), Number);
    case 'UINT64': return Array.from(new BigUint64Array(aligned(8), off(8), len(8)), Number);
    case 'FP16': return Array.from(new Uint16Array(aligned(2), off(2), len(2)), halfToFloat);
    case 'BF16': {
      const u = new Uint16Array(aligned(2), off(2), len(2));
      const f = new Float32Array(1);
      const bits = new Uint32Array(f.buffer);
      return Array.from(u, (x) => { bits[0] = x << 16; return f[0]!; });
    }
    case 'BYTES': return undefined;
  }
}

function argmax(v: ArrayLike<number>, from: number, n: number): number {
  let best = 0;
  let bv = -Infinity;
  for (let j = 0; j < n; j++) {
    const x = v[from + j]!;
    if (x > bv) { bv = x; best = j; }
  }
  return best;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Compare one output; `stats` accumulates. Returns this request's difference. */
export function compareOutput(p: Tensor, s: Tensor | undefined, stats: OutputStats): OutputDiff {
  stats.compared++;
  if (s === undefined || s.datatype !== p.datatype || !sameShape(s.shape, p.shape)) {
    stats.mismatched++;
    return { name: p.name, maxAbs: NaN, topDiffers: 0, topRows: 0, exact: false };
  }
  const exact = bytesEqual(p.data, s.data);
  if (exact) stats.exact++;
  const a = numbers(p);
  const b = numbers(s);
  let maxAbs = 0;
  const diff: OutputDiff = { name: p.name, maxAbs: 0, topDiffers: 0, topRows: 0, exact };
  if (a !== undefined && b !== undefined) {
    const n = Math.min(a.length, b.length);
    let sum = 0;
    let counted = 0;
    for (let i = 0; i < n; i++) {
      const x = a[i]!;
      const y = b[i]!;
      if (x === y) { counted++; continue; }
      const d = Math.abs(x - y);
      if (Number.isNaN(d)) continue; // one side NaN: not exact, but no distance
      sum += d;
      counted++;
      if (d > maxAbs) maxAbs = d;
    }
    stats.elements += counted;
    stats.sumAbs += sum;
    if (maxAbs > stats.maxAbs) stats.maxAbs = maxAbs;
    diff.maxAbs = maxAbs;
    if (FLOAT_TYPES.has(p.datatype) && p.shape.length === 2 && p.shape[1]! >= 2) {
      const rows = p.shape[0]!;
      const cls = p.shape[1]!;
      for (let r = 0; r < rows; r++) {
        const ta = argmax(a, r * cls, cls);
        const tb = argmax(b, r * cls, cls);
        if (ta !== tb) {
          if (diff.topDiffers === 0) { diff.topPrimary = ta; diff.topShadow = tb; }
          diff.topDiffers++;
        }
      }
      diff.topRows = rows;
      stats.topRows += rows;
      stats.topDiffers += diff.topDiffers;
    }
  }
  return diff;
}

/** Accumulated comparison of one (model, primary, shadow) pair. */
export class PairComparison {
  compared = 0;
  exactMatches = 0;
  readonly outputs = new Map<string, OutputStats>();

  #stats(name: string): OutputStats {
    let s = this.outputs.get(name);
    if (s === undefined) {
      s = { name, compared: 0, exact: 0, mismatched: 0, elements: 0, sumAbs: 0, maxAbs: 0, topRows: 0, topDiffers: 0 };
      this.outputs.set(name, s);
    }
    return s;
  }

  /** Compare a shadow's outputs with the primary's (matched by name). */
  add(primary: readonly Tensor[], shadow: readonly Tensor[]): OutputDiff[] {
    this.compared++;
    const diffs: OutputDiff[] = [];
    let exact = true;
    for (const p of primary) {
      const s = shadow.find((t) => t.name === p.name);
      const d = compareOutput(p, s, this.#stats(p.name));
      if (!d.exact) exact = false;
      diffs.push(d);
    }
    if (exact) this.exactMatches++;
    return diffs;
  }

  snapshot(): ComparisonSnapshot {
    let rows = 0;
    let differs = 0;
    const outputs: ComparisonSnapshot['outputs'] = [];
    for (const s of this.outputs.values()) {
      rows += s.topRows;
      differs += s.topDiffers;
      outputs.push({
        name: s.name,
        compared: s.compared,
        exact_match_rate: s.compared > 0 ? s.exact / s.compared : 0,
        max_abs_diff: s.maxAbs,
        mean_abs_diff: s.elements > 0 ? s.sumAbs / s.elements : 0,
        mismatched: s.mismatched,
        top_class_disagreement_rate: s.topRows > 0 ? s.topDiffers / s.topRows : null,
      });
    }
    return {
      compared: this.compared,
      exact_matches: this.exactMatches,
      exact_match_rate: this.compared > 0 ? this.exactMatches / this.compared : 0,
      top_class_rows: rows,
      top_class_disagreements: differs,
      top_class_disagreement_rate: rows > 0 ? differs / rows : null,
      outputs,
    };
  }
}
