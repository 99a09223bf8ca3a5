/**
 * The front-end tests that also talk gRPC (access, admission, echo bounds, TLS),
 * again with the gRPC engine that is not the default (--grpc-engine): same suites.
 */
import { OTHER_GRPC_ENGINE, useGrpcEngine } from '../helpers/grpc-engine.js';

useGrpcEngine(OTHER_GRPC_ENGINE);
await import('./engine-suites.js');
