/**
 * Start a real Osprey in this process on loopback with ephemeral ports, serving the
 * bundled repository and the test fixtures. ONNX Runtime still runs only in worker
 * threads, exactly as in production.
 */
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { DEFAULT_OPTIONS, type ServerOptions } from '../../src/config/cli.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { grpcEngineUnderTest } from './grpc-engine.js';

export const BUNDLED_REPO = fileURLToPath(new URL('../../../model-repository/', import.meta.url));
export const FIXTURE_REPO = fileURLToPath(new URL('../../../test/fixtures/models/', import.meta.url));

export interface TestServer extends RunningServer {
  /** Every log line the server wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  httpUrl: string;
  grpcAddress: string;
  /** `http://127.0.0.1:<metrics port>` (empty when metrics are off). */
  metricsUrl: string;
}

export async function startTestServer(overrides: Partial<ServerOptions> = {}): Promise<TestServer> {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line));
      cb();
    },
  });
  const opts: ServerOptions = {
    ...DEFAULT_OPTIONS,
    modelRepositories: [BUNDLED_REPO, FIXTURE_REPO],
    httpPort: 0, grpcPort: 0, metricsPort: 0,
    httpAddress: '127.0.0.1', grpcAddress: '127.0.0.1', metricsAddress: '127.0.0.1',
    workerThreads: 0, // production default: a thread per instance
    grpcEngine: grpcEngineUnderTest(),
    ...overrides,
  };
  const s = await startServer(Object.freeze(opts), sink);
  return Object.assign(s, {
    logs, httpUrl: `http://127.0.0.1:${s.httpPort}`, grpcAddress: `127.0.0.1:${s.grpcPort}`,
    metricsUrl: s.metricsPort > 0 ? `http://127.0.0.1:${s.metricsPort}` : '',
  });
}
