/** The shared-memory conformance suite (shm.test.ts) again with the gRPC engine that is not the default. */
import { OTHER_GRPC_ENGINE, useGrpcEngine } from '../helpers/grpc-engine.js';

useGrpcEngine(OTHER_GRPC_ENGINE);
await import('./shm.test.js');
