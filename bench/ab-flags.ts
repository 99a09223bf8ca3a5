#!/usr/bin/env node
/**
 * Two Osprey servers side by side, A and B, started with different flags or from
 * different builds (`--a-main`/`--b-main`: another checkout's dist/src/main.js),
 * measured with wrk / h2load on the headline scenarios (harness/independent.ts) in
 * interleaved pairs (the order flips every pair), so that drift on a shared machine
 * hits both alike. Prints each pair, how often B was higher and the ratio of medians;
 * writes JSON.
 *
 *   npm run build && node dist/ab-flags.js --b "--worker-nice 10" [--a ""] [--pairs 6] [--duration 2]
 *     [--scenarios tabular-http-c64,tabular-http-c1,...] [--out results/tmp/ab-flags.json]
 *     [--a-main PATH/dist/src/main.js] [--b-main PATH/dist/src/main.js]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { arg } from './harness/args.js';
import { findTool } from './harness/external-tools.js';
import { independentScenarios, prepare } from './harness/independent.js';
import { BENCH_ROOT, OSPREY_REPOSITORY } from './harness/paths.js';
import { startTarget, type RunningTarget } from './harness/targets.js';
import { median } from './harness/median.js';

const flags = (s: string): string[] => s.split(' ').filter(Boolean);
const A_ARGS = flags(arg('a', ''));
const B_ARGS = flags(arg('b', ''));
const A_MAIN = arg('a-main', '') || undefined;
const B_MAIN = arg('b-main', '') || undefined;
const PAIRS = Number(arg('pairs', '6'));
const DURATION_S = Number(arg('duration', '2'));
const OUT = arg('out', join(BENCH_ROOT, 'results/tmp/ab-flags.json'));
// The stream scenario compares two RPC forms on one server, not two servers.
const unary = independentScenarios().filter((s) => s.rpc !== 'stream' && s.targets.includes('osprey'));
const WANT = arg('scenarios', unary.map((s) => s.id).join(',')).split(',');

async function main(): Promise<void> {
  const bins = { wrk: findTool('wrk') ?? '', h2load: findTool('h2load') ?? '' };
  const scenarios = unary.filter((s) => WANT.includes(s.id) && bins[s.tool] !== '');
  if (scenarios.length === 0) throw new Error(`nothing to run: scenarios ${WANT.join(', ')} with wrk ${bins.wrk || 'missing'}, h2load ${bins.h2load || 'missing'}`);
  const logDir = join(tmpdir(), 'osprey-ab-flags');
  mkdirSync(logDir, { recursive: true });
  const models = [...new Set(scenarios.map((s) => s.model))];
  const ctx = { repo: OSPREY_REPOSITORY, noBatchRepo: OSPREY_REPOSITORY, models, logDir, readyTimeoutMs: 60_000 };
  const a = await startTarget('osprey', ctx, { args: A_ARGS, name: 'A', main: A_MAIN });
  const b = await startTarget('osprey', ctx, { args: B_ARGS, name: 'B', main: B_MAIN });
  const results = [];
  try {
    console.log(`A: ${A_MAIN ?? 'osprey'} ${A_ARGS.join(' ')}\nB: ${B_MAIN ?? 'osprey'} ${B_ARGS.join(' ')}\n${PAIRS} pairs of ${DURATION_S} s runs per scenario, order flipped every pair`);
    for (const sc of scenarios) {
      const { command, contenders } = await prepare(sc, ['osprey'], a.http, DURATION_S, bins);
      const c = contenders[0]!;
      const rate = async (t: RunningTarget): Promise<number> => (await c.run(t)).requestsPerSec;
      const pairs: [number, number][] = [];
      for (let p = 0; p < PAIRS; p++) {
        if (p % 2 === 0) { const x = await rate(a); pairs.push([x, await rate(b)]); }
        else { const y = await rate(b); pairs.push([await rate(a), y]); }
      }
      const higher = pairs.filter(([x, y]) => y > x).length;
      const ratio = median(pairs.map(([, y]) => y)) / median(pairs.map(([x]) => x));
      const load = loadavg()[0]!;
      console.log(`${sc.id}: ${pairs.map(([x, y]) => `${x}/${y}`).join(' ')}  B higher in ${higher} of ${PAIRS}; medians B/A ${ratio.toFixed(2)} (load ${load.toFixed(2)})`);
      results.push({ scenario: sc.id, command, pairs, bHigher: higher, ratioOfMedians: ratio, loadavg1: load });
    }
  } finally {
    await a.stop();
    await b.stop();
  }
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify({ date: new Date().toISOString(), a: A_ARGS, b: B_ARGS, aMain: A_MAIN, bMain: B_MAIN, pairs: PAIRS, durationS: DURATION_S, results }, null, 1)}\n`);
  console.log(`wrote ${OUT}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
