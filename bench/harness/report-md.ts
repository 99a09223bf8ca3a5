/** report.md from a results file: summary ratios first, then batching on/off, then every level. */
import type { LevelResult } from '../loadgen/run-level.js';
import { atLevel, fmtMs, fmtRate, fmtRatio, ratio, summarizeScenario, WIRE_LABEL } from './analysis.js';
import { independentSection } from './independent-md.js';
import type { BenchResults, ScenarioResult } from './results.js';
import { TARGET_LABELS, type TargetId } from './targets.js';

const table = (head: string[], rows: string[][]): string =>
  [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

export function machineLine(r: BenchResults): string {
  const m = r.machine;
  return `${m.cores} cores, ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}`;
}

export function summaryTable(r: BenchResults): string {
  const rows = r.scenarios.map((s) => {
    const x = summarizeScenario(r, s);
    const pk = (id: TargetId): string => {
      const p = x.peaks[id];
      return p ? `${fmtRate(p.inferPerSec)} @${p.concurrency}` : s.results[id] ? 'errors' : '-';
    };
    return [`${s.model} ${WIRE_LABEL[s.wire]}`, pk('osprey'), pk('osprey-nobatch'), pk('naive'), pk('floor'),
      fmtMs(x.p50AtOne.osprey), fmtRatio(x.vsNaive), fmtRatio(x.vsFloor), fmtRatio(x.vsCeiling), fmtRatio(x.batchingGain),
      fmtRatio(x.defaultVsNode), fmtRatio(x.defaultVsUws)];
  });
  return table(['scenario', 'Osprey peak infer/s @conc', 'batching off', 'naive', 'floor', 'Osprey p50 @1 (ms)',
    'Osprey ÷ naive', 'Osprey ÷ floor', 'Osprey ÷ ORT ceiling', 'batching on ÷ off', 'net (default) ÷ node:http engine', 'net (default) ÷ uWS engine'], rows);
}

function ceilingTable(r: BenchResults): string {
  return table(['model', 'sample', 'rows/s by batch size', 'best'],
    Object.entries(r.ceilings).flatMap(([m, c]) => c.samples.map((s) => [m, s.when,
      s.sweep.map((p) => `${p.batch}: ${p.rowsPerSec}`).join(', '),
      s.best.rowsPerSec === c.rowsPerSec ? `**${s.best.rowsPerSec}** (batch ${s.best.batch})` : String(s.best.rowsPerSec)])));
}

function batchingTable(r: BenchResults, s: ScenarioResult): string {
  const on = s.results.osprey;
  const off = s.results['osprey-nobatch'];
  const ceiling = r.ceilings[s.model]?.rowsPerSec;
  const rows = r.plan.concurrency.map((c) => {
    const a = atLevel(on, c);
    const b = atLevel(off, c);
    return [String(c), fmtRate(a?.inferencesPerSec), fmtMs(a?.latencyUs.p50), fmtMs(a?.latencyUs.p99), String(a?.server?.avgBatch ?? '-'),
      fmtRate(b?.inferencesPerSec), fmtMs(b?.latencyUs.p50), fmtMs(b?.latencyUs.p99),
      fmtRatio(ratio(a?.inferencesPerSec, ceiling)), fmtRatio(ratio(b?.inferencesPerSec, ceiling))];
  });
  return table(['concurrency', 'on: infer/s', 'p50 ms', 'p99 ms', 'avg batch', 'off: infer/s', 'p50 ms', 'p99 ms',
    'on ÷ ceiling', 'off ÷ ceiling'], rows);
}

const errs = (l: LevelResult | undefined): string =>
  !l ? '-' : l.errorCount === 0 ? '0' : Object.entries(l.errors).map(([k, v]) => `${k}: ${v}`).join(', ');

function scenarioTable(r: BenchResults, s: ScenarioResult): string {
  const ids = Object.keys(s.results) as TargetId[];
  const head = ['conc'];
  for (const id of ids) head.push(`${id} infer/s`, 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors', 'srv CPU %');
  head.push('client CPU %', 'other programs CPU %', 'Osprey ÷ naive', 'Osprey ÷ floor', 'Osprey ÷ ceiling');
  const ceiling = r.ceilings[s.model]?.rowsPerSec;
  const rows = r.plan.concurrency.map((c) => {
    const row = [String(c)];
    let clientMax = 0;
    let foreignMax = 0;
    for (const id of ids) {
      const l = atLevel(s.results[id], c);
      clientMax = Math.max(clientMax, l?.client.cpuPct ?? 0);
      foreignMax = Math.max(foreignMax, l?.foreignCpuPct ?? 0);
      row.push(fmtRate(l?.inferencesPerSec), fmtMs(l?.latencyUs.p50), fmtMs(l?.latencyUs.p99), fmtMs(l?.latencyUs.p999), errs(l),
        String(l?.processCpuPct[id] ?? '-'));
    }
    const o = atLevel(s.results.osprey, c)?.inferencesPerSec;
    row.push(String(clientMax), String(foreignMax), fmtRatio(ratio(o, atLevel(s.results.naive, c)?.inferencesPerSec)),
      fmtRatio(ratio(o, atLevel(s.results.floor, c)?.inferencesPerSec)), fmtRatio(ratio(o, ceiling)));
    return row;
  });
  return table(head, rows);
}

/** Median CPU % that programs other than the generator and the servers used during the levels. */
export function foreignLoad(r: BenchResults): number | null {
  const xs = r.scenarios.flatMap((s) => Object.values(s.results).flatMap((ls) => (ls ?? []).map((l) => l.foreignCpuPct)))
    .filter((x): x is number => typeof x === 'number').sort((a, b) => a - b);
  return xs.length ? xs[Math.floor(xs.length / 2)] : null;
}

export function noiseLine(r: BenchResults): string {
  const f = foreignLoad(r);
  if (f === null) return '';
  const cap = r.machine.cores * 100;
  return `Other programs on the machine used a median ${f}% CPU (of ${cap}%) during the levels` +
    (f > 20 ? ': absolute numbers are depressed and noisy; compare the ratios, which come from interleaved runs.' : '.');
}

export function reportMarkdown(r: BenchResults): string {
  const failed = Object.entries(r.targets).filter(([, t]) => t?.status === 'failed');
  const grpc = r.scenarios.filter((s) => s.wire === 'grpc' && (s.results.osprey || s.results['osprey-nobatch']));
  return [
    `# Osprey bench, ${r.date} (${r.plan.name})`,
    '',
    `Machine: ${machineLine(r)}. Commit: ${r.commit ?? 'unknown'}. Took ${Math.round(r.durationS)} s.`,
    '',
    noiseLine(r),
    '',
    `Batch-1 requests, closed loop, concurrency ${r.plan.concurrency.join(', ')}; per level ${r.plan.warmupMs} ms warm-up, ` +
      `then ${r.plan.measurementMs} ms windows until three agree within ${r.plan.stabilityPct}% (at most ${r.plan.maxTrials}). ` +
      'Servers were started side by side and the targets were interleaved at every level (rotating which goes first), ' +
      'so slow drift on a shared machine hits all of them alike. The load generator shares the cores with the server: its ' +
      'CPU use is in the per-level tables. Random FP32 inputs (4 decimals in JSON).',
    '',
    ...(failed.length ? ['**Not measured:** ' + failed.map(([id, t]) => `${id}: ${t!.error}`).join('; '), ''] : []),
    ...(r.notes.length ? ['Notes:', '', ...r.notes.map((n) => `- ${n}`), ''] : []),
    '## Summary',
    '',
    'Peak = highest infer/s over error-free levels. Ratios compare peaks (ceiling: served rows/s ÷ in-process ORT rows/s).',
    '',
    summaryTable(r),
    '',
    '![p99 latency against throughput](chart.svg)',
    '',
    ...independentSection(r.independent),
    '## In-process ONNX Runtime ceiling',
    '',
    `One worker thread per core, one intra-op thread each, model run back to back, in its own process while the servers idle; ` +
      `sampled ${r.plan.ceiling.repeat ? 'before the sweeps, before each scenario and after them' : 'once, before the sweeps'}. The best sample (bold) is the ceiling.`,
    '',
    ceilingTable(r),
    '',
    ...grpc.flatMap((s) => [`## Batching on vs off: ${s.model} (gRPC)`, '', batchingTable(r, s), '']),
    ...r.scenarios.flatMap((s) => [`## ${s.model}, ${WIRE_LABEL[s.wire]}`, '', scenarioTable(r, s), '']),
    'Files: `results.json` (everything above, per level: all percentiles, error keys, server statistics split, CPU), ' +
      '`<scenario>-<target>.csv` (perf_analyzer columns). Server logs go to `bench/results/tmp/logs/` (not committed).',
    '',
  ].join('\n');
}
