/**
 * The gRPC front-end suites of this directory once more, over the third gRPC engine
 * (--grpc-engine: of http2, grpc-js and net, the second that is not the default), as
 * other-grpc-engine.test.ts runs them over the first.
 */
import { THIRD_GRPC_ENGINE, useGrpcEngine } from '../../helpers/grpc-engine.js';

useGrpcEngine(THIRD_GRPC_ENGINE);
await import('./engine-suites.js');
