#!/usr/bin/env node
/**
 * Protocol floor baseline: `node dist/baselines/echo-server.js
 * --model-repository ../model-repository [--models a,b] --http-port P --grpc-port Q`.
 * Serves metadata and fixed infer responses over HTTP (uWebSockets.js) and gRPC
 * (grpc-js) without running any model.
 */
import { announce, baselineArgs } from './args.js';
import { startEchoGrpc } from './echo-grpc.js';
import { startEchoHttp } from './echo-http.js';
import { fixedResponses, type FixedResponses } from './fixed-responses.js';
import { loadModelSpec } from './model-spec.js';

const args = baselineArgs(process.argv.slice(2));
const models = new Map<string, FixedResponses>();
for (const m of args.models) {
  try {
    models.set(m, fixedResponses(loadModelSpec(args.repo, m)));
  } catch (e) {
    process.stderr.write(`echo: skipping ${m}: ${(e as Error).message}\n`);
  }
}
const http = await startEchoHttp(models, args.httpPort);
const { port: grpc, server } = await startEchoGrpc(models, args.grpcPort);
announce({ server: 'echo', http, grpc, models: [...models.keys()] });
const stop = (): void => server.tryShutdown(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
