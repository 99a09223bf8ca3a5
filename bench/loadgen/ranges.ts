/**
 * perf_analyzer-style ranges: `start:end:step` with an additive step, or `xN` for a
 * multiplicative one (`1:256:x2` = 1, 2, 4, ... 256). The end is always included.
 */
export function parseRange(spec: string): number[] {
  const [a, b, c] = spec.split(':');
  const start = Number(a);
  const end = b === undefined || b === '' ? start : Number(b);
  const mult = c?.startsWith('x') ?? false;
  const step = c === undefined || c === '' ? (mult ? 2 : 1) : Number(mult ? c.slice(1) : c);
  if (!(start > 0) || !(end >= start) || !(step > (mult ? 1 : 0))) {
    throw new Error(`bad range '${spec}': expected start:end[:step|:xfactor] with 0 < start <= end`);
  }
  const out: number[] = [];
  for (let v = start; v <= end; v = mult ? v * step : v + step) out.push(v);
  if (out[out.length - 1] !== end) out.push(end);
  return out;
}
