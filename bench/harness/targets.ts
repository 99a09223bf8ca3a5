/**
 * The servers a report compares. Each starts as a child process on free loopback
 * ports and is ready once its health and model-ready routes answer 200.
 *   osprey          the `osprey` command on the model repository as committed
 *   osprey-nobatch  the same on a copy without dynamic_batching (batching "off")
 *   osprey          (its HTTP engine is the default, net: node:net + llhttp)
 *   osprey-node     osprey with --http-engine node: node:http
 *   osprey-uws      osprey with --http-engine uws: the opt-in native uWebSockets.js engine
 *   osprey-grpcjs   osprey with --grpc-engine grpc-js: the gRPC front end on grpc-js's server
 *   osprey-h2       osprey with --grpc-engine http2: the same calls on node:http2
 *                   (the default, net, is Osprey's own HTTP/2 on node:net)
 *   naive           baselines/naive-server: node:http (and grpc-js) + one session.run per request
 *   floor           baselines/echo-server: same HTTP/gRPC stacks, no model at all
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Protocol } from '../loadgen/types.js';
import { OSPREY_MAIN, benchScript } from './paths.js';
import { freePort } from './ports.js';
import { spawnServer, waitReady, type ServerProcess } from './server-process.js';

export type TargetId = 'osprey' | 'osprey-nobatch' | 'osprey-node' | 'osprey-uws' | 'osprey-grpcjs' | 'osprey-h2' | 'naive' | 'floor';

export const TARGET_LABELS: Record<TargetId, string> = {
  osprey: 'Osprey',
  'osprey-nobatch': 'Osprey, batching off',
  'osprey-node': 'Osprey, node:http engine (--http-engine node)',
  'osprey-uws': 'Osprey, uWS engine (--http-engine uws)',
  'osprey-grpcjs': 'Osprey, grpc-js gRPC engine (--grpc-engine grpc-js)',
  'osprey-h2': 'Osprey, node:http2 gRPC engine (--grpc-engine http2)',
  naive: 'naive Node server',
  floor: 'protocol floor (echo)',
};

export const TARGET_PROTOCOLS: Record<TargetId, Protocol[]> = {
  osprey: ['http', 'grpc'],
  'osprey-nobatch': ['http', 'grpc'],
  'osprey-node': ['http'],
  'osprey-uws': ['http'],
  'osprey-grpcjs': ['grpc'],
  'osprey-h2': ['grpc'],
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
  repo: string;
  /** Repository copy without dynamic batching, for osprey-nobatch. */
  noBatchRepo: string;
  models: string[];
  logDir: string;
  readyTimeoutMs: number;
}

/** The flags that make an Osprey target use another engine than the default. */
const ENGINE_ARGS: Partial<Record<TargetId, string[]>> = {
  'osprey-node': ['--http-engine', 'node'],
  'osprey-uws': ['--http-engine', 'uws'],
  'osprey-grpcjs': ['--grpc-engine', 'grpc-js'],
  'osprey-h2': ['--grpc-engine', 'http2'],
};

/** Whether the `osprey` package is built (its command's script exists). */
export function ospreyBuilt(): boolean {
  return existsSync(OSPREY_MAIN);
}

/**
 * `extra`: more command-line flags for the server, a name for its log file when one id
 * runs twice, and for an Osprey target another build's command script to start
 * (`main`, e.g. a copy of the baseline's dist/ for an A/B of two builds).
 */
export async function startTarget(id: TargetId, ctx: StartContext, extra: { args?: string[]; name?: string; main?: string } = {}): Promise<RunningTarget> {
  const http = await freePort();
  const grpc = await freePort();
  const log = join(ctx.logDir, `${extra.name ?? id}.log`);
  const more = extra.args ?? [];
  const node = process.execPath;
  let proc: ServerProcess;
  switch (id) {
    case 'osprey':
    case 'osprey-nobatch':
    case 'osprey-node':
    case 'osprey-uws':
    case 'osprey-grpcjs':
    case 'osprey-h2': {
      const repo = id === 'osprey-nobatch' ? ctx.noBatchRepo : ctx.repo;
      const metrics = await freePort();
      const engine = ENGINE_ARGS[id] ?? [];
      proc = spawnServer(node, [extra.main ?? OSPREY_MAIN, '--model-repository', repo,
        '--http-port', String(http), '--grpc-port', String(grpc), '--metrics-port', String(metrics), ...engine, ...more], log);
      break;
    }
    case 'naive':
      proc = spawnServer(node, [benchScript('baselines/naive-server'), '--model-repository', ctx.repo,
        '--models', ctx.models.join(','), '--http-port', String(http), '--grpc-port', String(grpc), ...more], log);
      break;
    case 'floor':
      proc = spawnServer(node, [benchScript('baselines/echo-server'), '--model-repository', ctx.repo,
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
