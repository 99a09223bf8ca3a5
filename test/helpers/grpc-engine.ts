/**
 * The gRPC engine the servers of this test process use (--grpc-engine). grpc-js
 * unless a per-engine entry file (e.g. test/frontends/grpc/engine-http2.test.ts) sets
 * another before it imports the suites: each test file runs in its own process, so
 * one suite runs once per engine without a copy of it.
 */
import type { GrpcEngineChoice } from '../../src/config/cli.js';

let engine: GrpcEngineChoice = 'grpc-js';

export function useGrpcEngine(e: GrpcEngineChoice): void {
  engine = e;
}

export function grpcEngineUnderTest(): GrpcEngineChoice {
  return engine;
}
