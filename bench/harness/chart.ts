/**
 * p99 latency against throughput, one panel per scenario, one line per server, as a
 * hand-written SVG (no dependencies). Each point is one concurrency level; the
 * curve bends up where a server saturates, so further right and lower is better.
 */
import type { LevelResult } from '../loadgen/run-level.js';
import { WIRE_LABEL } from './analysis.js';
import type { BenchResults } from './results.js';
import { TARGET_LABELS, type TargetId } from './targets.js';

const COLORS: Record<TargetId, string> = {
  osprey: '#1f77b4', 'osprey-nobatch': '#17becf', 'osprey-node': '#ff7f0e', 'osprey-uws': '#2ca02c', 'osprey-grpcjs': '#9467bd', 'osprey-h2': '#8c564b', naive: '#d62728', floor: '#7f7f7f',
};
const PANEL_W = 520;
const PANEL_H = 360;
const M = { left: 64, right: 16, top: 36, bottom: 46 };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceStep(max: number): number {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

function panel(title: string, series: [TargetId, LevelResult[]][], x0: number, y0: number): string {
  const pts = series.flatMap(([, ls]) => ls.filter((l) => l.requests > 0));
  const out: string[] = [`<g transform="translate(${x0},${y0})">`,
    `<text x="${PANEL_W / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`];
  const w = PANEL_W - M.left - M.right;
  const h = PANEL_H - M.top - M.bottom;
  if (pts.length === 0) return out.concat('<text x="200" y="150">no data</text></g>').join('');
  const xMax = Math.max(...pts.map((p) => p.inferencesPerSec)) * 1.05 || 1;
  const yVals = pts.map((p) => Math.max(0.01, p.latencyUs.p99 / 1000));
  const lo = Math.floor(Math.log10(Math.min(...yVals)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...yVals))));
  const r1 = (x: number): number => Math.round(x * 10) / 10;
  const sx = (v: number): number => r1(M.left + (v / xMax) * w);
  const sy = (ms: number): number => r1(M.top + h - ((Math.log10(Math.max(0.01, ms)) - lo) / (hi - lo)) * h);
  out.push(`<rect x="${M.left}" y="${M.top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
  const step = niceStep(xMax);
  for (let v = 0; v <= xMax; v += step) {
    out.push(`<line x1="${sx(v)}" x2="${sx(v)}" y1="${M.top}" y2="${M.top + h}" stroke="#eee"/>`,
      `<text x="${sx(v)}" y="${M.top + h + 16}" text-anchor="middle" font-size="11">${v >= 1000 ? `${v / 1000}k` : v}</text>`);
  }
  for (let e = lo; e <= hi; e++) {
    const ms = 10 ** e;
    out.push(`<line x1="${M.left}" x2="${M.left + w}" y1="${sy(ms)}" y2="${sy(ms)}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${sy(ms) + 4}" text-anchor="end" font-size="11">${ms >= 1 ? ms : ms.toFixed(-e)}</text>`);
  }
  out.push(`<text x="${M.left + w / 2}" y="${PANEL_H - 8}" text-anchor="middle" font-size="12">inferences / s</text>`,
    `<text transform="translate(14,${M.top + h / 2}) rotate(-90)" text-anchor="middle" font-size="12">p99 latency (ms, log)</text>`);
  for (const [id, ls] of series) {
    const good = ls.filter((l) => l.requests > 0);
    const d = good.map((l, i) => `${i ? 'L' : 'M'}${sx(l.inferencesPerSec).toFixed(1)},${sy(l.latencyUs.p99 / 1000).toFixed(1)}`).join('');
    out.push(`<path d="${d}" fill="none" stroke="${COLORS[id]}" stroke-width="2"/>`);
    for (const l of good) {
      const cx = sx(l.inferencesPerSec).toFixed(1);
      const cy = sy(l.latencyUs.p99 / 1000).toFixed(1);
      out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${COLORS[id]}"><title>${esc(TARGET_LABELS[id])}: concurrency ${l.value}, ${l.inferencesPerSec} infer/s, p99 ${(l.latencyUs.p99 / 1000).toFixed(2)} ms</title></circle>`);
      if (id === 'osprey') out.push(`<text x="${cx}" y="${r1(Number(cy) - 6)}" font-size="9" text-anchor="middle" fill="${COLORS[id]}">${l.value}</text>`);
    }
  }
  out.push('</g>');
  return out.join('\n');
}

export function latencyThroughputSvg(res: BenchResults): string {
  const cols = 2;
  const rows = Math.ceil(res.scenarios.length / cols);
  const legendH = 30;
  const W = cols * PANEL_W;
  const H = rows * PANEL_H + legendH;
  const used = new Set(res.scenarios.flatMap((s) => Object.keys(s.results))) as Set<TargetId>;
  const legend = [...used].map((id, i) =>
    `<g transform="translate(${10 + i * 230},10)"><rect width="14" height="4" y="5" fill="${COLORS[id]}"/><text x="20" y="12" font-size="12">${esc(TARGET_LABELS[id])}</text></g>`).join('');
  const panels = res.scenarios.map((s, i) => panel(
    `${s.model}, ${WIRE_LABEL[s.wire] ?? s.wire}, batch 1 (labels: concurrency)`,
    Object.entries(s.results) as [TargetId, LevelResult[]][],
    (i % cols) * PANEL_W, legendH + Math.floor(i / cols) * PANEL_H,
  )).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
${legend}
${panels}
</svg>
`;
}
