/**
 * The front-end tests that also talk gRPC (access, admission, echo bounds, TLS),
 * again with the third gRPC engine (--grpc-engine; the second that is not the default): same suites.
 */
import { THIRD_GRPC_ENGINE, useGrpcEngine } from '../helpers/grpc-engine.js';

useGrpcEngine(THIRD_GRPC_ENGINE);
await import('./engine-suites.js');
