/** Library entry of the load generator. */
export { runSweep, prepare, type SweepOptions, type SweepResult } from './sweep.js';
export { runLevel, type LevelOptions, type LevelResult, type LoadMode } from './run-level.js';
export { makeTransport, type Transport } from './transport.js';
export { toCsv, toMarkdown, levelLine } from './format.js';
export { parseRange } from './ranges.js';
export { Histogram, summarize, type LatencySummary } from './histogram.js';
export { statsDelta, httpStatsSource, grpcStatsSource, type ServerSplit, type StatsSource } from './server-stats.js';
export { machineInfo, type MachineInfo } from './machine.js';
export type { ModelInfo, TensorSpec, StatsSnapshot, Protocol } from './types.js';
