/**
 * What `npm run bench` measures. Every scenario is batch-1 requests for one model
 * over one wire, swept over concurrency, against each target that speaks that wire.
 * Batching on/off is the gRPC scenarios' osprey vs osprey-nobatch pair.
 */
import type { Wire } from '../loadgen/payload.js';
import type { TargetId } from './targets.js';

export interface Scenario {
  id: string;
  model: string;
  wire: Wire;
  targets: TargetId[];
}

export interface Plan {
  name: 'full' | 'quick';
  models: string[];
  scenarios: Scenario[];
  concurrency: number[];
  warmupMs: number;
  measurementMs: number;
  maxTrials: number;
  stabilityPct: number;
  /** `repeat`: also sample before each scenario and at the end (the best sample counts). */
  ceiling: { durationMs: number; batches?: number[]; repeat: boolean };
  /** wrk / h2load runs of the headline scenarios (harness/independent.ts), when installed. */
  independent: { rounds: number; durationS: number };
}

const MODELS = ['tabular', 'cnn'];

function scenarios(): Scenario[] {
  return MODELS.flatMap((model) => [
    // On the small model, the default gRPC engine (node:http2) beside grpc-js's.
    { id: `${model}-grpc`, model, wire: 'grpc' as const, targets: (model === 'tabular' ? ['osprey', 'osprey-grpcjs', 'osprey-nobatch', 'naive', 'floor'] : ['osprey', 'osprey-nobatch', 'naive', 'floor']) as TargetId[] },
    // The default engine beside node:http and uWS on the small model, where the front end's cost shows.
    { id: `${model}-http`, model, wire: 'http-json' as const, targets: (model === 'tabular' ? ['osprey', 'osprey-node', 'osprey-uws', 'naive', 'floor'] : ['osprey', 'naive', 'floor']) as TargetId[] },
    // perf_analyzer's default HTTP format (binary tensor data). On the compute-heavy
    // model it shows what the server costs when the protocol is cheap: the 12 KB
    // request that costs grpc-js ~0.3 ms of main-thread CPU costs uWS ~0.1 ms.
    ...(model === 'cnn' ? [{ id: `${model}-http-binary`, model, wire: 'http-binary' as const, targets: ['osprey', 'floor'] as TargetId[] }] : []),
  ]);
}

export function makePlan(name: 'full' | 'quick'): Plan {
  if (name === 'quick') {
    return {
      name, models: MODELS, scenarios: scenarios(), concurrency: [1, 8, 64],
      warmupMs: 250, measurementMs: 600, maxTrials: 1, stabilityPct: 10,
      ceiling: { durationMs: 300, repeat: false },
      independent: { rounds: 1, durationS: 2 },
    };
  }
  return {
    name, models: MODELS, scenarios: scenarios(), concurrency: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    warmupMs: 1500, measurementMs: 2000, maxTrials: 5, stabilityPct: 10,
    ceiling: { durationMs: 1500, repeat: true },
    independent: { rounds: 3, durationS: 6 },
  };
}
