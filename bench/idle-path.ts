/**
 * Idle-path benchmark: what it costs to hand one small run to a worker thread, seen
 * from a client, through running servers. Four servers on the same HTTP stack
 * (node:http), one model, batch-1 HTTP/JSON requests:
 *
 *  - inline:       the naive server (baselines/naive-server.ts): `session.run` on the
 *                  main thread, no hand-off at all (the floor; Osprey never does this),
 *  - piscina:      the same naive server with `--piscina`: the run goes to one piscina
 *                  worker thread (the general-task-pool design: structured-clone
 *                  messages, atomics 'sync'),
 *  - osprey:       Osprey with `--http-engine node --worker-threads 1`: its own
 *                  shared-memory channel and the hot hand-off (at concurrency 1 an idle
 *                  worker polls for the next request, the main thread for short answers),
 *  - osprey-cold:  the same with `--worker-spin-us 0`: every hand-off wakes a sleeping
 *                  thread.
 *
 * inline against piscina is the price of a general pool's hand-off; osprey against
 * osprey-cold that of sleeping threads. Osprey against the naive servers also holds
 * everything else a real server does per request (validation, the batcher, statistics).
 * Interleaved: at every concurrency each server runs in turn, the order rotating every
 * round, so drift on a shared machine hits them alike. Medians over rounds of throughput
 * and of p50/p99 latency (us) are printed and written, with every round, as JSON.
 *
 *   npm run build && node dist/idle-path.js [--rounds 5] [--duration-ms 2000]
 *     [--model tabular] [--concurrency 1,8,64] [--modes inline,piscina,osprey,osprey-cold]
 *     [--out results/idle-path-http.json]
 *
 * bench/results/idle-path.json is the earlier in-process form of this measurement
 * (the pool and piscina driven directly, without HTTP), kept with the README figures
 * quoted from it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { arg } from './harness/args.js';
import { BENCH_ROOT, OSPREY_REPOSITORY } from './harness/paths.js';
import { startTarget, type RunningTarget, type TargetId } from './harness/targets.js';
import { runSweep } from './loadgen/sweep.js';
import { median } from './harness/median.js';

const ROUNDS = Number(arg('rounds', '5'));
const DURATION_MS = Number(arg('duration-ms', '2000'));
const WARMUP_MS = Math.min(500, DURATION_MS);
const MODEL = arg('model', 'tabular');
const CONCURRENCY = arg('concurrency', '1,8,64').split(',').map(Number);
const OUT = resolve(BENCH_ROOT, arg('out', 'results/idle-path-http.json'));

type Mode = 'inline' | 'piscina' | 'osprey' | 'osprey-cold';
const SERVERS: Record<Mode, { id: TargetId; args: string[] }> = {
  inline: { id: 'naive', args: [] },
  piscina: { id: 'naive', args: ['--piscina'] },
  osprey: { id: 'osprey', args: ['--http-engine', 'node', '--worker-threads', '1'] },
  'osprey-cold': { id: 'osprey', args: ['--http-engine', 'node', '--worker-threads', '1', '--worker-spin-us', '0'] },
};
const MODES = arg('modes', 'inline,piscina,osprey,osprey-cold').split(',') as Mode[];
for (const m of MODES) if (SERVERS[m] === undefined) throw new Error(`unknown mode '${m}' (${Object.keys(SERVERS).join(', ')})`);

interface Point { requestsPerSec: number; p50us: number; p99us: number; requests: number; errors: number }
interface Row { mode: Mode; concurrency: number; rounds: Point[]; median: Omit<Point, 'requests' | 'errors'> }

async function measure(t: RunningTarget, concurrency: number): Promise<Point> {
  const r = await runSweep({
    url: t.http, protocol: 'http', model: MODEL, batchSize: 1, inputData: 'zero', mode: 'concurrency', values: [concurrency],
    warmupMs: WARMUP_MS, measurementMs: DURATION_MS, stabilityPct: 100, maxTrials: 1, serverStats: false,
  });
  const l = r.levels[0]!;
  return { requestsPerSec: Math.round(l.requestsPerSec), p50us: l.latencyUs.p50, p99us: l.latencyUs.p99, requests: l.requests, errors: l.errorCount };
}

async function main(): Promise<void> {
  const logDir = mkdtempSync(join(tmpdir(), 'osprey-idle-path-'));
  const servers = new Map<Mode, RunningTarget>();
  const rows = new Map<string, Row>();
  try {
    for (const mode of MODES) {
      servers.set(mode, await startTarget(SERVERS[mode].id, {
        repo: OSPREY_REPOSITORY, noBatchRepo: '', models: [MODEL], logDir, readyTimeoutMs: 60_000,
      }, { args: SERVERS[mode].args, name: mode }));
    }
    for (let round = 0; round < ROUNDS; round++) {
      const order = MODES.map((_, i) => MODES[(i + round) % MODES.length]!);
      for (const c of CONCURRENCY) {
        for (const mode of order) {
          const p = await measure(servers.get(mode)!, c);
          if (p.errors > 0) throw new Error(`${mode} at concurrency ${c}: ${p.errors} failed requests (logs in ${logDir})`);
          const key = `${mode}/${c}`;
          let row = rows.get(key);
          if (row === undefined) rows.set(key, row = { mode, concurrency: c, rounds: [], median: { requestsPerSec: 0, p50us: 0, p99us: 0 } });
          row.rounds.push(p);
        }
      }
      process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
    }
  } finally {
    for (const s of servers.values()) await s.stop();
    rmSync(logDir, { recursive: true, force: true });
  }

  for (const row of rows.values()) {
    row.median = {
      requestsPerSec: median(row.rounds.map((p) => p.requestsPerSec)),
      p50us: median(row.rounds.map((p) => p.p50us)),
      p99us: median(row.rounds.map((p) => p.p99us)),
    };
  }
  const get = (mode: Mode, c: number): Row['median'] | undefined => rows.get(`${mode}/${c}`)?.median;
  const round2 = (x: number): number => Math.round(x * 100) / 100;
  const ratios: Record<string, number> = {};
  const pairs: [Mode, Mode][] = [['piscina', 'inline'], ['osprey', 'inline'], ['piscina', 'osprey'], ['osprey-cold', 'osprey']];
  for (const [a, b] of pairs) {
    const x = get(a, 1);
    const y = get(b, 1);
    if (x && y) ratios[`c1_p50_${a}_over_${b}`] = round2(x.p50us / y.p50us);
  }
  for (const c of CONCURRENCY) {
    for (const [a, b] of pairs) {
      const x = get(a, c);
      const y = get(b, c);
      if (x && y) ratios[`c${c}_throughput_${a}_over_${b}`] = round2(x.requestsPerSec / y.requestsPerSec);
    }
  }

  console.log(`idle path, ${MODEL} over HTTP/JSON (node:http everywhere): ${ROUNDS} rounds x ${DURATION_MS} ms per point, medians over rounds`);
  console.log('mode           conc    req/s    p50 us    p99 us');
  for (const row of rows.values()) {
    const m = row.median;
    console.log(`${row.mode.padEnd(13)} ${String(row.concurrency).padStart(5)} ${String(m.requestsPerSec).padStart(8)} ${m.p50us.toFixed(1).padStart(9)} ${m.p99us.toFixed(1).padStart(9)}`);
  }
  console.log(JSON.stringify(ratios));

  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify({
    bench: 'idle-path-http',
    date: new Date().toISOString(),
    machine: { cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? '', node: process.version, loadavgAtEnd: loadavg() },
    config: { rounds: ROUNDS, durationMs: DURATION_MS, concurrency: CONCURRENCY, model: MODEL, modes: MODES, servers: SERVERS },
    rows: [...rows.values()],
    ratios,
  }, null, 2) + '\n');
  console.log(`wrote ${OUT}`);
}

await main();
