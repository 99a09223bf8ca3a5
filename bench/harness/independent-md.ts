/**
 * The independent generators' table (wrk / h2load), for report.md and the README's
 * results section: medians over rounds, ratios taken within the same run, and the
 * load the figures were measured under.
 */
import { fmtRate, fmtRatio, ratio } from './analysis.js';
import type { IndependentResults, IndependentScenarioResult } from './independent.js';

const load = (s: IndependentScenarioResult): string =>
  `${s.otherCpuPctMedian === null ? '?' : s.otherCpuPctMedian.toFixed(0)} / ${s.loadavg1Median.toFixed(1)}`;

const cell = (s: IndependentScenarioResult, label: string): string => {
  const m = s.medians[label];
  return m ? fmtRate(m.inferencesPerSec) : '-';
};

function what(s: IndependentScenarioResult): string {
  const wire = s.wire === 'grpc' ? (s.rpc === 'stream' ? `gRPC ModelStreamInfer, ${s.streamMessages} in one stream` : `gRPC, 1 conn × ${s.concurrency} streams`)
    : `HTTP ${s.wire === 'http-binary' ? 'binary' : 'JSON'}, ${s.concurrency} conn`;
  return `${s.model} ${wire} (${s.tool})`;
}

export function independentTable(ind: IndependentResults): string {
  const head = ['scenario', 'Osprey infer/s', 'naive', 'floor (echo)', 'ORT ceiling', 'Osprey ÷ naive', 'Osprey ÷ floor',
    'Osprey ÷ ceiling', 'Osprey p99 ms', 'Osprey node:http (--http-engine node) infer/s', 'Osprey uWS (opt-in) infer/s', 'uWS ÷ naive', 'uWS ÷ ceiling',
    'Osprey grpc-js engine (--grpc-engine grpc-js) infer/s', 'grpc-js engine ÷ floor',
    'Osprey node:http2 engine (--grpc-engine http2) infer/s', 'node:http2 engine ÷ floor', 'other programs CPU % / loadavg'];
  const rows = ind.scenarios.map((s) => {
    const o = s.medians.osprey?.inferencesPerSec ?? s.medians['osprey stream']?.inferencesPerSec;
    const uws = s.medians['osprey-uws']?.inferencesPerSec;
    if (s.rpc === 'stream') {
      const unary = s.medians['osprey unary']?.inferencesPerSec;
      return [what(s), cell(s, 'osprey stream'), '-', '-', '-', '-', `unary: ${cell(s, 'osprey unary')}, stream ÷ unary ${fmtRatio(ratio(o, unary))}`, '-',
        '-', '-', '-', '-', '-', '-', '-', '-', '-', load(s)];
    }
    return [what(s), cell(s, 'osprey'), cell(s, 'naive'), cell(s, 'floor'), s.ceilingMedian === null ? '-' : fmtRate(s.ceilingMedian),
      fmtRatio(ratio(o, s.medians.naive?.inferencesPerSec)), fmtRatio(ratio(o, s.medians.floor?.inferencesPerSec)),
      fmtRatio(ratio(o, s.ceilingMedian)), s.medians.osprey?.p99Ms == null ? '-' : String(s.medians.osprey.p99Ms),
      cell(s, 'osprey-node'), cell(s, 'osprey-uws'), s.medians['osprey-uws'] ? fmtRatio(ratio(uws, s.medians.naive?.inferencesPerSec)) : '-',
      s.medians['osprey-uws'] ? fmtRatio(ratio(uws, s.ceilingMedian)) : '-',
      cell(s, 'osprey-grpcjs'), s.medians['osprey-grpcjs'] ? fmtRatio(ratio(s.medians['osprey-grpcjs'].inferencesPerSec, s.medians.floor?.inferencesPerSec)) : '-',
      cell(s, 'osprey-h2'), s.medians['osprey-h2'] ? fmtRatio(ratio(s.medians['osprey-h2'].inferencesPerSec, s.medians.floor?.inferencesPerSec)) : '-',
      load(s)];
  });
  return [
    `| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

export function independentNote(ind: IndependentResults): string {
  return `Medians of ${ind.rounds} rounds of ${ind.durationS} s, servers alternating within each round (rotating who goes first); ` +
    'the ORT ceiling of cnn was sampled before each round. "other programs" is the machine\'s busy CPU (of 200% on 2 cores) ' +
    'minus the server and the generator during the runs. A ceiling sample is taken in its own process and suffers the ' +
    'load of its moment alone, so with other programs busy it can fall below what a server got a minute later. ' +
    'h2load resets the streams still in flight when its time is up; Osprey counts those as cancelled failures.' +
    (ind.skipped.length ? ` Not run: ${ind.skipped.join('; ')}.` : '');
}

export function independentSection(ind: IndependentResults | undefined): string[] {
  if (!ind) return ['## Independent load generators', '', 'Not run (`--no-independent`).', ''];
  return [
    '## Independent load generators (wrk, h2load)', '', independentNote(ind), '', independentTable(ind), '',
    'Commands:', '', ...ind.scenarios.map((s) => `- ${s.id}: \`${s.command}\``), '',
  ];
}
