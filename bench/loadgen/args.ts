/** Command-line options of the generator, named after perf_analyzer's where one exists. */
import { parseArgs } from 'node:util';
import { parseRange } from './ranges.js';
import type { SweepOptions } from './sweep.js';

export const USAGE = `Usage: node dist/loadgen/cli.js -m <model> [options]

  -m, --model-name <name>          model to load (required)
  -x, --model-version <v>          version (default: the server's choice)
  -u, --url <host:port>            default 127.0.0.1:8000 (http) / 127.0.0.1:8001 (grpc)
  -i, --protocol http|grpc         default http
      --binary                     HTTP: binary tensor extension (default JSON)
      --concurrency-range a:b:s    closed loop; s additive or xN multiplicative (default 1)
      --request-rate-range a:b:s   open loop, requests/second
      --poisson                    open loop: Poisson arrivals (default constant)
  -b, --batch-size <n>             rows per request (default 1)
      --input-data zero|random|<file.json>   default random
      --shape <input>:<d1,d2,..>   dims for inputs with -1 (repeatable)
      --string-length <n>          BYTES random strings (default 16)
      --warmup-ms <ms>             default 2000
  -p, --measurement-ms <ms>        window length (default 5000)
  -s, --stability-percentage <p>   default 10
  -r, --max-trials <n>             windows per level at most (default 5)
      --connections <n>            gRPC sessions / HTTP open-loop connection cap
  -l, --latency-threshold-ms <ms>  stop the sweep once p99 exceeds it
      --max-outstanding <n>        open loop: skip sends beyond this many in flight
      --no-stats                   do not read the server's statistics
      --server-pid <pid>           also report this process's CPU use
      --json <file> --csv <file> --markdown <file>
  -q, --quiet
`;

export interface CliOptions {
  sweep: SweepOptions;
  json?: string;
  csv?: string;
  markdown?: string;
  quiet: boolean;
}

export function parseCli(argv: string[]): CliOptions | 'help' {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      'model-name': { type: 'string', short: 'm' },
      'model-version': { type: 'string', short: 'x' },
      url: { type: 'string', short: 'u' },
      protocol: { type: 'string', short: 'i', default: 'http' },
      binary: { type: 'boolean', default: false },
      'concurrency-range': { type: 'string' },
      'request-rate-range': { type: 'string' },
      poisson: { type: 'boolean', default: false },
      'request-distribution': { type: 'string' },
      'batch-size': { type: 'string', short: 'b', default: '1' },
      'input-data': { type: 'string', default: 'random' },
      shape: { type: 'string', multiple: true },
      'string-length': { type: 'string', default: '16' },
      'warmup-ms': { type: 'string', default: '2000' },
      'measurement-ms': { type: 'string', short: 'p', default: '5000' },
      'stability-percentage': { type: 'string', short: 's', default: '10' },
      'max-trials': { type: 'string', short: 'r', default: '5' },
      connections: { type: 'string' },
      'latency-threshold-ms': { type: 'string', short: 'l' },
      'max-outstanding': { type: 'string' },
      'no-stats': { type: 'boolean', default: false },
      'server-pid': { type: 'string' },
      json: { type: 'string' },
      csv: { type: 'string' },
      markdown: { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (v.help) return 'help';
  const model = v['model-name'];
  if (!model) throw new Error('missing -m/--model-name');
  const protocol = v.protocol;
  if (protocol !== 'http' && protocol !== 'grpc') throw new Error(`--protocol must be http or grpc, not '${protocol}'`);
  if (v['concurrency-range'] && v['request-rate-range']) throw new Error('give --concurrency-range or --request-rate-range, not both');
  const rate = v['request-rate-range'];
  const num = (name: string, s: string | undefined): number | undefined => {
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, not '${s}'`);
    return n;
  };
  const shapes: Record<string, number[]> = {};
  for (const s of v.shape ?? []) {
    const i = s.lastIndexOf(':');
    if (i <= 0) throw new Error(`--shape expects <input>:<d1,d2,...>, not '${s}'`);
    shapes[s.slice(0, i)] = s.slice(i + 1).split(',').map(Number);
  }
  const pid = num('server-pid', v['server-pid']);
  return {
    sweep: {
      url: v.url ?? (protocol === 'grpc' ? '127.0.0.1:8001' : '127.0.0.1:8000'),
      protocol,
      binary: v.binary,
      model,
      version: v['model-version'],
      batchSize: num('batch-size', v['batch-size'])!,
      inputData: v['input-data']!,
      shapes,
      stringLength: num('string-length', v['string-length']),
      mode: rate ? 'rate' : 'concurrency',
      values: parseRange(rate ?? v['concurrency-range'] ?? '1'),
      poisson: v.poisson || v['request-distribution'] === 'poisson',
      warmupMs: num('warmup-ms', v['warmup-ms'])!,
      measurementMs: num('measurement-ms', v['measurement-ms'])!,
      stabilityPct: num('stability-percentage', v['stability-percentage'])!,
      maxTrials: Math.max(1, num('max-trials', v['max-trials'])!),
      connections: num('connections', v.connections),
      serverStats: !v['no-stats'],
      latencyThresholdMs: num('latency-threshold-ms', v['latency-threshold-ms']),
      maxOutstanding: num('max-outstanding', v['max-outstanding']),
      pids: pid ? { server: pid } : undefined,
    },
    json: v.json,
    csv: v.csv,
    markdown: v.markdown,
    quiet: v.quiet,
  };
}
