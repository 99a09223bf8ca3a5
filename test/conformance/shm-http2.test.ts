/** The shared-memory conformance suite (shm.test.ts) with the http2 gRPC engine (--grpc-engine http2). */
import { useGrpcEngine } from '../helpers/grpc-engine.js';

useGrpcEngine('http2');
await import('./shm.test.js');
