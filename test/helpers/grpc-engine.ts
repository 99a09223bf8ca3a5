/**
 * The gRPC engine the servers of this test process use (--grpc-engine): the default
 * one, unless an entry file (other-grpc-engine.test.ts) picks the other before it
 * imports the suites. Each test file runs in its own process, so one suite runs once
 * per engine without a copy of it.
 */
import { DEFAULT_OPTIONS, type GrpcEngineChoice } from '../../src/config/cli.js';

let engine: GrpcEngineChoice = DEFAULT_OPTIONS.grpcEngine;

/** The engine that is not the default one. */
export const OTHER_GRPC_ENGINE: GrpcEngineChoice = DEFAULT_OPTIONS.grpcEngine === 'http2' ? 'grpc-js' : 'http2';

export function useGrpcEngine(e: GrpcEngineChoice): void {
  engine = e;
}

export function grpcEngineUnderTest(): GrpcEngineChoice {
  return engine;
}
