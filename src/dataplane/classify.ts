/**
 * Triton's `classification` output parameter: replace an output with its top-k
 * entries per batch row as BYTES "<value>:<index>[:<label>]".
 */
import { decodeValues, encodeValues } from '../codec/raw.js';
import { InvalidArgument } from '../errors/errors.js';
import type { Tensor } from '../types/tensor.js';

export function classify(t: Tensor, k: number, batched: boolean, labels: readonly string[] | undefined): Tensor {
  if (!Number.isInteger(k) || k < 1) throw new InvalidArgument(`classification count must be a positive integer for output '${t.name}'`);
  if (t.datatype === 'BYTES') throw new InvalidArgument(`class result not available for output '${t.name}' due to unsupported type 'BYTES'`);
  const values = decodeValues(t.datatype, t.data, t.name).map(Number);
  const rows = batched ? (t.shape[0] ?? 1) : 1;
  const perRow = rows === 0 ? 0 : values.length / rows;
  const top = Math.min(k, perRow);
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const idx = Array.from({ length: perRow }, (_, i) => i);
    const base = r * perRow;
    idx.sort((a, b) => values[base + b]! - values[base + a]! || a - b);
    for (let j = 0; j < top; j++) {
      const i = idx[j]!;
      const label = labels?.[i];
      // std::to_string(float) formatting, as Triton writes it.
      out.push(label ? `${values[base + i]!.toFixed(6)}:${i}:${label}` : `${values[base + i]!.toFixed(6)}:${i}`);
    }
  }
  return { name: t.name, datatype: 'BYTES', shape: batched ? [rows, top] : [top], data: encodeValues('BYTES', out, t.name) };
}
