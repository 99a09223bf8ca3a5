/** Shared flags of the baseline servers (tritonserver's names where they exist). */
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { OSPREY_REPOSITORY } from '../harness/paths.js';
import { parseArgs } from 'node:util';

export interface BaselineArgs {
  repo: string;
  models: string[];
  httpPort: number;
  grpcPort: number;
  /** naive server only: run sessions in a piscina worker (idle-path.ts). */
  piscina: boolean;
}

export function baselineArgs(argv: string[]): BaselineArgs {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      'model-repository': { type: 'string', default: OSPREY_REPOSITORY },
      models: { type: 'string' },
      'http-port': { type: 'string', default: '0' },
      'grpc-port': { type: 'string', default: '0' },
      piscina: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const repo = v['model-repository']!;
  const models = v.models
    ? v.models.split(',')
    : readdirSync(repo).filter((d) => existsSync(join(repo, d, 'config.pbtxt')));
  return { repo, models, httpPort: Number(v['http-port']), grpcPort: Number(v['grpc-port']), piscina: v.piscina ?? false };
}

/** One JSON line on stdout once listening: the bench harness waits for it. */
export function announce(info: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, ...info })}\n`);
}
