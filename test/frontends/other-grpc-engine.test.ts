/**
 * The front-end tests that also talk gRPC (access, admission, echo bounds, TLS),
 * again with the gRPC engine that is not the default (--grpc-engine): same suites.
 */
import { OTHER_GRPC_ENGINE, useGrpcEngine } from '../helpers/grpc-engine.js';

useGrpcEngine(OTHER_GRPC_ENGINE);
await import('./access.test.js');
await import('./admission.test.js');
await import('./echo-bounds.test.js');
await import('./tls.test.js');
