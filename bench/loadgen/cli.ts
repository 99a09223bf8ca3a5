#!/usr/bin/env node
/**
 * perf_analyzer-style command line: sweep concurrency or request rate against any
 * KServe v2 server and write JSON, CSV and markdown. See `--help` and bench/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseCli, USAGE } from './args.js';
import { levelLine, toCsv, toMarkdown } from './format.js';
import { runSweep } from './sweep.js';

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

async function main(): Promise<void> {
  let opts;
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (opts === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const { sweep } = opts;
  const log = opts.quiet ? (): void => {} : (s: string): void => void process.stdout.write(`${s}\n`);
  log(`${sweep.protocol}${sweep.protocol === 'http' ? (sweep.binary ? ' (binary)' : ' (JSON)') : ''} ${sweep.url} model ${sweep.model} batch ${sweep.batchSize}, ${sweep.mode} ${sweep.values.join(',')}`);
  const result = await runSweep({ ...sweep, onLevel: (r) => log(levelLine(r)) });
  if (!opts.quiet) process.stdout.write(`\n${toMarkdown(result.levels)}`);
  if (opts.json) write(opts.json, JSON.stringify(result, null, 2) + '\n');
  if (opts.csv) write(opts.csv, toCsv(result.levels));
  if (opts.markdown) write(opts.markdown, toMarkdown(result.levels));
}

main().catch((e: Error) => {
  process.stderr.write(`loadgen: ${e.message}\n`);
  process.exit(1);
});
