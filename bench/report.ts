#!/usr/bin/env node
/**
 * `npm run bench` / `npm run bench:quick`: start Osprey and the baselines side by
 * side on free loopback ports, measure the ORT ceiling, sweep every scenario against
 * every target (interleaved per level), and write results.json, report.md, chart.svg
 * and perf_analyzer CSVs to bench/results/<date>/ (quick: bench/results/tmp/<date>/).
 *   node dist/report.js [--quick] [--out DIR] [--targets a,b] [--scenarios a,b]
 *     [--concurrency 1:256:x2] [--update-readme]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { toCsv } from './loadgen/format.js';
import { machineInfo } from './loadgen/machine.js';
import { parseRange } from './loadgen/ranges.js';
import { runSweep } from './loadgen/sweep.js';
import { ceilingInChild } from './harness/ceiling-run.js';
import { independentScenarios, runIndependent } from './harness/independent.js';
import { latencyThroughputSvg } from './harness/chart.js';
import { makePlan } from './harness/plan.js';
import { copyWithoutBatching } from './harness/repo-copy.js';
import { reportMarkdown } from './harness/report-md.js';
import type { BenchResults, ScenarioResult } from './harness/results.js';
import { ospreyBuilt, startTarget, TARGET_LABELS, TARGET_PROTOCOLS, type RunningTarget, type TargetId } from './harness/targets.js';
import { BENCH_ROOT, OSPREY_MAIN, OSPREY_REPOSITORY } from './harness/paths.js';
import { updateReadme } from './update-readme.js';


const { values: v } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    targets: { type: 'string' },
    scenarios: { type: 'string' },
    concurrency: { type: 'string' },
    'update-readme': { type: 'boolean', default: false },
    'no-independent': { type: 'boolean', default: false },
    'model-repository': { type: 'string' },
  },
});

const log = (s: string): void => void process.stdout.write(`${s}\n`);
const localDate = (): string => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};

function commit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: BENCH_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const plan = makePlan(v.quick ? 'quick' : 'full');
  if (v.concurrency) plan.concurrency = parseRange(v.concurrency);
  if (v.scenarios) plan.scenarios = plan.scenarios.filter((s) => v.scenarios!.split(',').includes(s.id));
  const only = v.targets?.split(',') as TargetId[] | undefined;
  if (only) plan.scenarios.forEach((s) => { s.targets = s.targets.filter((t) => only.includes(t)); });
  const date = localDate();
  const out = resolve(v.out ?? join(BENCH_ROOT, 'results', v.quick ? 'tmp' : '', date));
  const repo = resolve(v['model-repository'] ?? OSPREY_REPOSITORY);
  // Server logs are for post-mortems, not for the committed results.
  const logDir = join(BENCH_ROOT, 'results/tmp/logs', `${date}-${plan.name}`);
  mkdirSync(out, { recursive: true });
  log(`bench (${plan.name}) -> ${out} (server logs: ${logDir})`);

  const res: BenchResults = {
    kind: 'osprey-bench', version: 1, date, startedAt: new Date(t0).toISOString(), durationS: 0, plan,
    machine: machineInfo(), commit: commit(), targets: {}, ceilings: {}, scenarios: [], notes: [],
  };

  // The ceiling is sampled several times on a shared machine; the best sample counts.
  const sampleCeiling = async (m: string, when: string): Promise<void> => {
    const c = await ceilingInChild(repo, m, plan.ceiling.durationMs, plan.ceiling.batches);
    const e = (res.ceilings[m] ??= { samples: [], rowsPerSec: 0, batch: 0 });
    e.samples.push({ ...c, when });
    if (c.best.rowsPerSec > e.rowsPerSec) Object.assign(e, { rowsPerSec: c.best.rowsPerSec, batch: c.best.batch });
    log(`ceiling ${m} (${when}): ${c.best.rowsPerSec} rows/s at batch ${c.best.batch}`);
  };
  for (const m of plan.models) await sampleCeiling(m, 'start');

  const noBatch = copyWithoutBatching(repo, plan.models);
  const running = new Map<TargetId, RunningTarget>();
  const stopAll = async (): Promise<void> => {
    await Promise.all([...running.values()].map((t) => t.stop()));
    running.clear();
    noBatch.remove();
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

  try {
    // The sweep's targets, and those only the independent generators measure (osprey-h2).
    const independentOnly = v['no-independent'] ? [] : independentScenarios().flatMap((s) => s.targets).filter((t) => only === undefined || only.includes(t));
    const wanted = [...new Set([...plan.scenarios.flatMap((s) => s.targets), ...independentOnly])];
    // Start side by side: they load models in parallel, and all must idle while one is measured.
    await Promise.all(wanted.map(async (id) => {
      if (id.startsWith('osprey') && !ospreyBuilt()) {
        res.targets[id] = { label: TARGET_LABELS[id], status: 'failed', error: `${OSPREY_MAIN} not built (npm ci at the repository root builds it)` };
        return;
      }
      try {
        const t = await startTarget(id, {
          repo, noBatchRepo: noBatch.dir, models: plan.models, logDir, readyTimeoutMs: 60_000,
        });
        running.set(id, t);
        res.targets[id] = { label: TARGET_LABELS[id], status: 'ok' };
        log(`started ${id} (pid ${t.pid}) http ${t.http}${t.grpc ? ` grpc ${t.grpc}` : ''}`);
      } catch (e) {
        res.targets[id] = { label: TARGET_LABELS[id], status: 'failed', error: (e as Error).message };
        log(`could not start ${id}: ${(e as Error).message}`);
      }
    }));
    const pids = Object.fromEntries([...running].map(([id, t]) => [id, t.pid]));

    for (const sc of plan.scenarios) {
      if (plan.ceiling.repeat) await sampleCeiling(sc.model, `before ${sc.id}`);
      const protocol = sc.wire === 'grpc' ? 'grpc' : 'http';
      const ids = sc.targets.filter((id) => running.has(id) && TARGET_PROTOCOLS[id].includes(protocol));
      const sr: ScenarioResult = { id: sc.id, model: sc.model, wire: sc.wire, results: {} };
      res.scenarios.push(sr);
      const broken = new Set<TargetId>();
      for (const [li, c] of plan.concurrency.entries()) {
        // Rotate who goes first at each level so no server always runs right after the same one.
        const order = ids.map((_, k) => ids[(k + li) % ids.length]).filter((id) => !broken.has(id));
        for (const id of order) {
          const t = running.get(id)!;
          try {
            const r = await runSweep({
              url: protocol === 'grpc' ? t.grpc! : t.http, protocol, binary: sc.wire === 'http-binary', model: sc.model,
              batchSize: 1, inputData: 'random', mode: 'concurrency', values: [c], warmupMs: plan.warmupMs,
              measurementMs: plan.measurementMs, stabilityPct: plan.stabilityPct, maxTrials: plan.maxTrials, pids,
            });
            const level = r.levels[0];
            (sr.results[id] ??= []).push(level);
            const others = Object.entries(level.processCpuPct).filter(([k]) => k !== id).reduce((a, [, x]) => a + (x ?? 0), 0);
            if (others > 5) res.notes.push(`${sc.id} c=${c} ${id}: idle servers used ${others.toFixed(1)}% CPU meanwhile`);
            log(`${sc.id} c=${c} ${id}: ${level.inferencesPerSec} infer/s p50 ${(level.latencyUs.p50 / 1000).toFixed(2)} ms p99 ${(level.latencyUs.p99 / 1000).toFixed(2)} ms` +
              `${level.errorCount ? ` errors ${JSON.stringify(level.errors)}` : ''} (client ${level.client.cpuPct}%, server ${level.processCpuPct[id] ?? '?'}%, other programs ${level.foreignCpuPct ?? '?'}%)`);
          } catch (e) {
            broken.add(id);
            res.notes.push(`${sc.id} ${id} stopped at concurrency ${c}: ${(e as Error).message}`);
            log(`${sc.id} c=${c} ${id}: FAILED ${(e as Error).message}`);
          }
        }
      }
    }
    if (!v['no-independent']) {
      // The same servers, now under wrk and h2load (each skipped when not installed).
      res.independent = await runIndependent({
        rounds: plan.independent.rounds, durationS: plan.independent.durationS, running, log,
        ceiling: async (m) => (await ceilingInChild(repo, m, plan.ceiling.durationMs, plan.ceiling.batches)).best.rowsPerSec,
      });
      for (const s of res.independent.skipped) res.notes.push(`independent generators: ${s}`);
    }
  } finally {
    await stopAll();
  }

  if (plan.ceiling.repeat) for (const m of plan.models) await sampleCeiling(m, 'end');

  res.durationS = Math.round((Date.now() - t0) / 100) / 10;
  writeFileSync(join(out, 'results.json'), JSON.stringify(res, null, 2) + '\n');
  writeFileSync(join(out, 'report.md'), reportMarkdown(res));
  writeFileSync(join(out, 'chart.svg'), latencyThroughputSvg(res));
  for (const s of res.scenarios) {
    for (const [id, levels] of Object.entries(s.results)) writeFileSync(join(out, `${s.id}-${id}.csv`), toCsv(levels!));
  }
  log(`wrote ${join(out, 'report.md')} in ${res.durationS} s`);
  if (v['update-readme']) log(`updated ${updateReadme(join(out, 'results.json'))}`);
}

main().catch((e: Error) => {
  process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
