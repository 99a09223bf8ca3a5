/**
 * The servers a report compares. Each starts as a child process on free loopback
 * ports and is ready once its health and model-ready routes answer 200.
 *   osprey          dist/src/main.js on the model repository as committed
 *   osprey-nobatch  the same on a copy without dynamic_batching (batching "off")
 *   osprey-node     osprey with --http-engine node: what the node:http fallback costs
 *   naive           baselines/naive-server: node:http (and grpc-js) + one session.run per request
 *   floor           baselines/echo-server: same HTTP/gRPC stacks, no model at all
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Protocol } from '../loadgen/types.js';
import { freePort } from './ports.js';
import { spawnServer, waitReady, type ServerProcess } from './server-process.js';

export type TargetId = 'osprey' | 'osprey-nobatch' | 'osprey-node' | 'naive' | 'floor';

export const TARGET_LABELS: Record<TargetId, string> = {
  osprey: 'Osprey',
  'osprey-nobatch': 'Osprey, batching off',
  'osprey-node': 'Osprey, node:http engine',
  naive: 'naive Node server',
  floor: 'protocol floor (echo)',
};

export const TARGET_PROTOCOLS: Record<TargetId, Protocol[]> = {
  osprey: ['http', 'grpc'],
  'osprey-nobatch': ['http', 'grpc'],
  'osprey-node': ['http'],
  naive: ['http', 'grpc'],
  floor: ['http', 'grpc'],
};

export interface RunningTarget {
  id: TargetId;
  pid: number;
  http: string;
  grpc: string | null;
  stop(): Promise<void>;
}

export interface StartContext {
  root: string;
  repo: string;
  /** Repository copy without dynamic batching, for osprey-nobatch. */
  noBatchRepo: string;
  models: string[];
  logDir: string;
  readyTimeoutMs: number;
}

const OSPREY_MAIN = 'dist/src/main.js';

export function ospreyBuilt(root: string): boolean {
  return existsSync(join(root, OSPREY_MAIN));
}

export async function startTarget(id: TargetId, ctx: StartContext): Promise<RunningTarget> {
  const http = await freePort();
  const grpc = await freePort();
  const log = join(ctx.logDir, `${id}.log`);
  const node = process.execPath;
  let proc: ServerProcess;
  switch (id) {
    case 'osprey':
    case 'osprey-nobatch':
    case 'osprey-node': {
      const repo = id === 'osprey-nobatch' ? ctx.noBatchRepo : ctx.repo;
      const metrics = await freePort();
      const engine = id === 'osprey-node' ? ['--http-engine', 'node'] : [];
      proc = spawnServer(node, [join(ctx.root, OSPREY_MAIN), '--model-repository', repo,
        '--http-port', String(http), '--grpc-port', String(grpc), '--metrics-port', String(metrics), ...engine], log);
      break;
    }
    case 'naive':
      proc = spawnServer(node, [join(ctx.root, 'dist/bench/baselines/naive-server.js'), '--model-repository', ctx.repo,
        '--models', ctx.models.join(','), '--http-port', String(http), '--grpc-port', String(grpc)], log);
      break;
    case 'floor':
      proc = spawnServer(node, [join(ctx.root, 'dist/bench/baselines/echo-server.js'), '--model-repository', ctx.repo,
        '--models', ctx.models.join(','), '--http-port', String(http), '--grpc-port', String(grpc)], log);
      break;
  }
  const hostPort = `127.0.0.1:${http}`;
  try {
    // The naive server has no per-model ready route: its metadata route answering means loaded.
    const paths = ['/v2/health/ready', ...ctx.models.map((m) => (id === 'naive' ? `/v2/models/${m}` : `/v2/models/${m}/ready`))];
    await waitReady(proc, hostPort, paths, ctx.readyTimeoutMs);
  } catch (e) {
    await proc.stop();
    throw new Error(`${(e as Error).message}; see ${log}`);
  }
  return { id, pid: proc.pid, http: hostPort, grpc: `127.0.0.1:${grpc}`, stop: () => proc.stop() };
}
