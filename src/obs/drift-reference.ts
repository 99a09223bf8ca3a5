/**
 * Reference distributions for drift's PSI: the bins of one feature, from a reference
 * file or built from sample values (the first full window after load), and the PSI of
 * a window's bin counts against them.
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
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const REFERENCE_FILE = 'drift_reference.json';
/** Floor for a bin share in the PSI sum, so an empty bin does not make it infinite. */
const PSI_EPSILON = 1e-4;

export interface FeatureReference {
  /** Inner bin edges, strictly increasing. */
  edges: Float64Array;
  /** Reference share per bin (edges.length + 1 of them), summing to 1. */
  proportions: Float64Array;
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
export function binOf(edges: Float64Array, x: number): number {
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
