/**
 * One describe block's real server on a scratch model repository: `fill` writes the
 * repository, the server starts on it (with `overrides`) and a gRPC client connects,
 * all in a `before` hook; the `after` hook closes them and removes the repository.
 * `use` receives them once started (assign them to the block's variables).
 */
import { after, before } from 'node:test';
import type { ServerOptions } from '../../src/config/cli.js';
import { createGrpcClient, type GrpcTestClient } from './grpc-client.js';
import { removeRepo, tempRepo } from './repo-fixtures.js';
import { startTestServer, type TestServer } from './server.js';

export interface ScratchServer { repo: string; s: TestServer; c: GrpcTestClient }

export function scratchServer(
  fill: (repo: string) => Promise<void>, overrides: Partial<ServerOptions>, use: (h: ScratchServer) => void,
): void {
  let h: Partial<ScratchServer> = {};
  before(async () => {
    h.repo = await tempRepo();
    await fill(h.repo);
    h.s = await startTestServer({ modelRepositories: [h.repo], ...overrides });
    h.c = createGrpcClient(h.s.grpcAddress);
    use(h as ScratchServer);
  });
  after(async () => {
    h.c?.close();
    await h.s?.shutdown();
    if (h.repo !== undefined) await removeRepo(h.repo);
    h = {};
  });
}
