/**
 * The gRPC front-end tests of this directory, again over the gRPC engine that is not
 * the default (--grpc-engine): same suites, same clients. Unit tests without a server
 * (codec, guard, wire) do not depend on the engine and run once; h2-raw.test.ts
 * checks both engines itself.
 */
import { OTHER_GRPC_ENGINE, useGrpcEngine } from '../../helpers/grpc-engine.js';

useGrpcEngine(OTHER_GRPC_ENGINE);
await import('./engine-suites.js');
