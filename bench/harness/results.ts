/** The results file `npm run bench` writes and `update-readme` reads. */
import type { CeilingResult } from '../baselines/ort-ceiling.js';
import type { MachineInfo } from '../loadgen/machine.js';
import type { Wire } from '../loadgen/payload.js';
import type { LevelResult } from '../loadgen/run-level.js';
import type { IndependentResults } from './independent.js';
import type { Plan } from './plan.js';
import type { TargetId } from './targets.js';

export interface TargetStatus {
  label: string;
  status: 'ok' | 'failed';
  error?: string;
}

export interface CeilingEntry {
  /** Every measurement, in order: before the sweeps, before each scenario of this model (full runs), after. */
  samples: (CeilingResult & { when: string })[];
  /** The best sample: the ceiling ratios are taken against (the machine's capability, least disturbed). */
  rowsPerSec: number;
  batch: number;
}

export interface ScenarioResult {
  id: string;
  model: string;
  wire: Wire;
  /** One entry per concurrency level measured, in sweep order. */
  results: Partial<Record<TargetId, LevelResult[]>>;
}

export interface BenchResults {
  kind: 'osprey-bench';
  version: 1;
  date: string;
  startedAt: string;
  durationS: number;
  plan: Plan;
  machine: MachineInfo;
  commit: string | null;
  targets: Partial<Record<TargetId, TargetStatus>>;
  ceilings: Record<string, CeilingEntry>;
  scenarios: ScenarioResult[];
  /** The headline scenarios under wrk and h2load (absent when not run). */
  independent?: IndependentResults;
  /** Anything a reader must know: targets that failed mid-run, idle servers that were not idle. */
  notes: string[];
}
