/** Shared flags of the baseline servers (tritonserver's names where they exist). */
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export interface BaselineArgs {
  repo: string;
  models: string[];
  httpPort: number;
  grpcPort: number;
}

export function baselineArgs(argv: string[]): BaselineArgs {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      'model-repository': { type: 'string', default: 'model-repository' },
      models: { type: 'string' },
      'http-port': { type: 'string', default: '0' },
      'grpc-port': { type: 'string', default: '0' },
    },
    strict: true,
  });
  const repo = v['model-repository']!;
  const models = v.models
    ? v.models.split(',')
    : readdirSync(repo).filter((d) => existsSync(join(repo, d, 'config.pbtxt')));
  return { repo, models, httpPort: Number(v['http-port']), grpcPort: Number(v['grpc-port']) };
}

/** One JSON line on stdout once listening: the bench harness waits for it. */
export function announce(info: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, ...info })}\n`);
}
