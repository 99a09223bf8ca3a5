/**
 * The gRPC front-end tests of this directory, again over the http2 engine
 * (--grpc-engine http2, src/frontends/grpc/h2/): same suites, same clients. Unit tests
 * without a server (codec, guard, wire) do not depend on the engine and run once.
 */
import { useGrpcEngine } from '../../helpers/grpc-engine.js';

useGrpcEngine('http2');
await import('./direct-unary.test.js');
await import('./infer.test.js');
await import('./inflight-bytes.test.js');
await import('./receive-limit.test.js');
await import('./reflection.test.js');
await import('./server.test.js');
await import('./stream-bad-frame.test.js');
