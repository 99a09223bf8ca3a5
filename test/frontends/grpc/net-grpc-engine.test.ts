/**
 * The gRPC front-end suites of this directory once more, over the net engine
 * (--grpc-engine net: Osprey's own HTTP/2 on node:net): same suites, same clients, as
 * other-grpc-engine.test.ts runs them over the engine that is not the default.
 */
import { useGrpcEngine } from '../../helpers/grpc-engine.js';

useGrpcEngine('net');
await import('./direct-unary.test.js');
await import('./infer.test.js');
await import('./inflight-bytes.test.js');
await import('./receive-limit.test.js');
await import('./reflection.test.js');
await import('./server.test.js');
await import('./stream-bad-frame.test.js');
