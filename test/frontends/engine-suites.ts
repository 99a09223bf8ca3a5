/**
 * The front-end tests that also talk gRPC (access, admission, echo bounds, TLS), once per
 * engine: other-grpc-engine.test.ts and third-grpc-engine.test.ts pick another engine
 * (--grpc-engine) and import this list.
 */
await import('./access.test.js');
await import('./admission.test.js');
await import('./echo-bounds.test.js');
await import('./tls.test.js');
