/** The shared-memory conformance suite (shm.test.ts) again with the third gRPC engine (the second that is not the default). */
import { THIRD_GRPC_ENGINE, useGrpcEngine } from '../helpers/grpc-engine.js';

useGrpcEngine(THIRD_GRPC_ENGINE);
await import('./shm.test.js');
