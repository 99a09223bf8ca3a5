#!/usr/bin/env node
/**
 * #15's "ModelStreamInfer >= 1.5x unary", alone and with more rounds than the report
 * gives it: the report's `tabular-grpc-stream` loads (h2load: n messages in one stream
 * at a time, against n unary calls in flight on one connection) alternated on one
 * Osprey server, or on two builds side by side (`--b-main`, another checkout's
 * dist/src/main.js), the order flipped every round. Prints each round's stream and
 * unary rates and their ratio, then the medians; writes JSON.
 *
 *   npm run build && node dist/stream-ratio.js [--rounds 6] [--duration 5]
 *     [--main PATH/dist/src/main.js] [--server-args "..."]
 *     [--b-main PATH/dist/src/main.js] [--b-server-args "..."] [--out results/tmp/stream-ratio.json]
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
const ROUNDS = Number(arg('rounds', '6'));
const DURATION_S = Number(arg('duration', '5'));
if (!(Number.isInteger(ROUNDS) && ROUNDS > 0 && DURATION_S > 0)) {
  console.error('--rounds: a positive integer; --duration: seconds, over 0');
  process.exit(2);
}
const OUT = arg('out', join(BENCH_ROOT, 'results/tmp/stream-ratio.json'));
const A = { main: arg('main', '') || undefined, args: flags(arg('server-args', '')) };
const B_MAIN = arg('b-main', '') || undefined;
const B_ARGS = arg('b-server-args', '');
const B = B_MAIN !== undefined || B_ARGS !== '' ? { main: B_MAIN, args: flags(B_ARGS) } : undefined;

interface Round { round: number; stream: number; unary: number; ratio: number; loadavg1: number }

async function main(): Promise<void> {
  const h2load = findTool('h2load');
  if (!h2load) throw new Error('h2load not installed (Debian: nghttp2-client)');
  const logDir = join(tmpdir(), 'osprey-stream-ratio');
  mkdirSync(logDir, { recursive: true });
  const ctx = { repo: OSPREY_REPOSITORY, noBatchRepo: OSPREY_REPOSITORY, models: ['tabular'], logDir, readyTimeoutMs: 60_000 };
  const servers: [string, RunningTarget][] = [['A', await startTarget('osprey', ctx, { ...A, name: 'A' })]];
  if (B !== undefined) servers.push(['B', await startTarget('osprey', ctx, { ...B, name: 'B' })]);
  const rounds: Record<string, Round[]> = {};
  try {
    const sc = independentScenarios().find((s) => s.id === 'tabular-grpc-stream')!;
    const { command, contenders } = await prepare(sc, ['osprey'], servers[0]![1].http, DURATION_S, { h2load, wrk: '' });
    const [stream, unary] = contenders as [typeof contenders[0], typeof contenders[0]];
    console.log(`${command}\n${ROUNDS} rounds of ${DURATION_S} s each way, order flipped every round`);
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, t] of r % 2 ? [...servers].reverse() : servers) {
        const rate = async (c: typeof stream): Promise<number> => (await c.run(t)).requestsPerSec * c.messages;
        let s: number;
        let u: number;
        if (r % 2) { u = await rate(unary); s = await rate(stream); } else { s = await rate(stream); u = await rate(unary); }
        const x: Round = { round: r, stream: s, unary: u, ratio: s / u, loadavg1: loadavg()[0]! };
        (rounds[name] ??= []).push(x);
        console.log(`${name} round ${r + 1}: stream ${Math.round(s)} unary ${Math.round(u)} messages/s, ratio ${x.ratio.toFixed(2)} (load ${x.loadavg1.toFixed(2)})`);
      }
    }
  } finally {
    for (const [, t] of servers) await t.stop();
  }
  const summary = Object.fromEntries(Object.entries(rounds).map(([name, rs]) => {
    const s = median(rs.map((x) => x.stream));
    const u = median(rs.map((x) => x.unary));
    console.log(`${name}: medians stream ${Math.round(s)} unary ${Math.round(u)}, ratio of medians ${(s / u).toFixed(2)}, ` +
      `per-round ratios ${rs.map((x) => x.ratio.toFixed(2)).join(' ')}`);
    return [name, { stream: s, unary: u, ratioOfMedians: s / u, rounds: rs }];
  }));
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify({ date: new Date().toISOString(), a: A, b: B, rounds: ROUNDS, durationS: DURATION_S, summary }, null, 1)}\n`);
  console.log(`wrote ${OUT}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
