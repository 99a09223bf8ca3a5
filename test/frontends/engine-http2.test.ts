/**
 * The front-end tests that also talk gRPC (access, admission, echo bounds, TLS),
 * again with the http2 gRPC engine (--grpc-engine http2): same suites, same clients.
 */
import { useGrpcEngine } from '../helpers/grpc-engine.js';

useGrpcEngine('http2');
await import('./access.test.js');
await import('./admission.test.js');
await import('./echo-bounds.test.js');
await import('./tls.test.js');
