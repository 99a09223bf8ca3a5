/**
 * The gRPC engine the servers of this test process use (--grpc-engine): the default
 * one, unless an entry file (other-/third-grpc-engine.test.ts) picks another before it
 * imports the suites. Each test file runs in its own process, so one suite runs once
 * per engine without a copy of it.
 */
import { DEFAULT_OPTIONS, type GrpcEngineChoice } from '../../src/config/cli.js';

let engine: GrpcEngineChoice = DEFAULT_OPTIONS.grpcEngine;

/** Every engine (--grpc-engine); the suites run on each, one entry file per engine beside the default. */
const ALL: readonly GrpcEngineChoice[] = ['http2', 'grpc-js', 'net'];
const BESIDE_DEFAULT = ALL.filter((e) => e !== DEFAULT_OPTIONS.grpcEngine);

/** The engines that are not the default: other-grpc-engine.test.ts files run the first, third-grpc-engine.test.ts the second. */
export const OTHER_GRPC_ENGINE: GrpcEngineChoice = BESIDE_DEFAULT[0]!;
export const THIRD_GRPC_ENGINE: GrpcEngineChoice = BESIDE_DEFAULT[1]!;

export function useGrpcEngine(e: GrpcEngineChoice): void {
  engine = e;
}

export function grpcEngineUnderTest(): GrpcEngineChoice {
  return engine;
}
