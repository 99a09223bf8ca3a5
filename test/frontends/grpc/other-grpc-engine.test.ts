/**
 * The gRPC front-end tests of this directory, again over the gRPC engine that is not
 * the default (--grpc-engine): same suites, same clients. Unit tests without a server
 * (codec, guard, wire) do not depend on the engine and run once; h2-raw.test.ts
 * checks both engines itself.
 */
import { OTHER_GRPC_ENGINE, useGrpcEngine } from '../../helpers/grpc-engine.js';

useGrpcEngine(OTHER_GRPC_ENGINE);
await import('./direct-unary.test.js');
await import('./infer.test.js');
await import('./inflight-bytes.test.js');
await import('./receive-limit.test.js');
await import('./reflection.test.js');
await import('./server.test.js');
await import('./stream-bad-frame.test.js');
