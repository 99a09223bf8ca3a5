/**
 * Output forms: perf_analyzer-compatible CSV (its columns first, in its units of
 * microseconds, then ours), a markdown table, and one console line per level.
 */
import type { LevelResult } from './run-level.js';

const PA_COLUMNS = [
  'Inferences/Second', 'Client Send', 'Network+Server Send/Recv', 'Server Queue', 'Server Compute Input',
  'Server Compute Infer', 'Server Compute Output', 'Client Recv', 'p50 latency', 'p90 latency', 'p95 latency',
  'p99 latency', 'Avg latency',
];
const EXTRA_COLUMNS = ['p99.9 latency', 'Max latency', 'Requests/Second', 'Errors', 'Client CPU %', 'Server Avg Batch', 'Stable'];

export const errorText = (e: Record<string, number>): string =>
  Object.entries(e).map(([k, v]) => `${k}=${v}`).join(' ');

function csvRow(r: LevelResult): (string | number)[] {
  const s = r.server;
  const server = s ? s.queueUs + s.computeInputUs + s.computeInferUs + s.computeOutputUs : 0;
  // The generator never decodes responses (Client Recv = 0); "send" is open-loop lateness.
  const send = r.sendLagUs.avg;
  const network = Math.max(0, r.latencyUs.avg - send - server);
  return [
    r.value, r.inferencesPerSec, send, network, s?.queueUs ?? 0, s?.computeInputUs ?? 0, s?.computeInferUs ?? 0,
    s?.computeOutputUs ?? 0, 0, r.latencyUs.p50, r.latencyUs.p90, r.latencyUs.p95, r.latencyUs.p99, r.latencyUs.avg,
    r.latencyUs.p999, r.latencyUs.max, r.requestsPerSec, `"${errorText(r.errors)}"`, r.client.cpuPct,
    s?.avgBatch ?? '', r.stable === null ? '' : String(r.stable),
  ];
}

export function toCsv(levels: readonly LevelResult[]): string {
  const first = levels[0]?.mode === 'rate' ? 'Request Rate' : 'Concurrency';
  const lines = [[first, ...PA_COLUMNS, ...EXTRA_COLUMNS].join(',')];
  for (const r of levels) lines.push(csvRow(r).join(','));
  return lines.join('\n') + '\n';
}

const ms = (us: number): string => (us / 1000).toFixed(us < 10_000 ? 2 : 1);

export function toMarkdown(levels: readonly LevelResult[]): string {
  const first = levels[0]?.mode === 'rate' ? 'rate (req/s)' : 'concurrency';
  const head = `| ${first} | req/s | infer/s | p50 ms | p90 ms | p95 ms | p99 ms | p99.9 ms | max ms | errors | client CPU % | server queue / infer us | avg batch |`;
  const rule = '|' + head.split('|').slice(1, -1).map(() => '---:').join('|') + '|';
  const rows = levels.map((r) => {
    const l = r.latencyUs;
    const s = r.server;
    return `| ${r.value} | ${r.requestsPerSec} | ${r.inferencesPerSec} | ${ms(l.p50)} | ${ms(l.p90)} | ${ms(l.p95)} | ${ms(l.p99)} | ${ms(l.p999)} | ${ms(l.max)} | ${r.errorCount ? errorText(r.errors) : 0} | ${r.client.cpuPct} | ${s ? `${s.queueUs} / ${s.computeInferUs}` : '-'} | ${s?.avgBatch ?? '-'} |`;
  });
  return [head, rule, ...rows].join('\n') + '\n';
}

export function levelLine(r: LevelResult): string {
  const l = r.latencyUs;
  const s = r.server;
  const stable = r.stable === false ? ' (unstable)' : '';
  const srv = s ? ` | server queue ${s.queueUs}us infer ${s.computeInferUs}us batch ${s.avgBatch}` : '';
  const procs = Object.entries(r.processCpuPct).map(([k, v]) => ` ${k} CPU ${v ?? '?'}%`).join('');
  const err = r.errorCount ? ` | errors ${errorText(r.errors)}` : '';
  return `${r.mode} ${r.value}: ${r.requestsPerSec} req/s, ${r.inferencesPerSec} infer/s | p50 ${ms(l.p50)} p90 ${ms(l.p90)} p99 ${ms(l.p99)} p99.9 ${ms(l.p999)} max ${ms(l.max)} ms | client CPU ${r.client.cpuPct}% ELU ${r.client.eventLoopUtilization}${procs}${srv}${err}${stable}`;
}
