/**
 * The gRPC front-end suites of this directory that start a server, once per engine: the
 * default runs them from their own files; other-grpc-engine.test.ts and
 * third-grpc-engine.test.ts pick another engine (--grpc-engine) and import this list.
 * Unit tests without a server (codec, guard, wire) do not depend on the engine and run
 * once; h2-raw and the h2-probe tests check every engine themselves.
 */
await import('./direct-unary.test.js');
await import('./infer.test.js');
await import('./inflight-bytes.test.js');
await import('./receive-limit.test.js');
await import('./reflection.test.js');
await import('./server.test.js');
await import('./stream-bad-frame.test.js');
