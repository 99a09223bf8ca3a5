/**
 * Messages between the main thread and the ONNX Runtime worker threads. Plain data
 * only: everything here crosses a thread boundary by structured clone, and the
 * ArrayBuffers in it are transferred (unusable by the sender after the post).
 */
import type { ErrorData } from '../errors/errors.js';
import type { OnnxModelInfo } from '../config/model-config.js';
import type { RunTiming, WireTensor } from '../types/run.js';
import type { DataType } from '../types/tensor.js';

export interface SessionSettings {
  intraOpThreads: number;
  interOpThreads: number;
  executionMode: 'sequential' | 'parallel';
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  enableMemArena: boolean;
  enableMemPattern: boolean;
  /** Execution providers in preference order, e.g. ['cuda', 'cpu']. */
  providers: string[];
  /**
   * Intra-op threads of the instance's second, "solo" session, used for a run that
   * has the server to itself (concurrency 1, see `soloQuiet`); 0 = no solo session.
   */
  soloIntraOpThreads: number;
}

/** Where a worker finds a model: enough to (re)create the session on any worker. */
export interface SessionSpec {
  key: string;
  path: string;
  settings: SessionSettings;
}

/** One implicit state of a sequence model (config `sequence_batching.state`). */
export interface StateSpec {
  input: string;
  output: string;
  datatype: DataType;
  /** Shape of one row's value at START (zeros), without the batch dimension. */
  initialDims: number[];
}

/**
 * A sequence batch: which slot each row is (the key its state is kept under in this
 * worker), and what to do with that state. The state never leaves the worker: it is
 * fed into the state input of the row's next run and replaced by its state output.
 */
export interface SequenceRun {
  states: StateSpec[];
  /** Whether the model has a batch dimension (max_batch_size > 0). */
  batched: boolean;
  rows: Array<{
    /** `<instance>/<slot>`: unique per version (the session key scopes it further). */
    slot: string;
    /** START: begin from the initial state. */
    start: boolean;
    /** The row holds a request (READY): only such rows update their state. */
    ready: boolean;
    /** END: drop the state after this run. */
    end: boolean;
  }>;
}

export interface LoadTask { op: 'load'; spec: SessionSpec }
/** `rows` in the batch, `largest`: rows of its largest request (they size its share of the outputs). */
export interface RunTask { op: 'run'; spec: SessionSpec; inputs: WireTensor[]; outputs: string[]; rows?: number; largest?: number; seq?: SequenceRun }
/** Drop the sequence state kept for these slots of a session (idle timeout, close). */
export interface StateFreeTask { op: 'state-free'; key: string; slots: string[] }
export interface UnloadTask { op: 'unload'; key: string }
export interface ListTask { op: 'list' }
/** Test-only: the worker calls process.exit(code), as a crashing worker would die. */
export interface ExitTask { op: 'exit'; code: number }
export type WorkerTask = LoadTask | RunTask | UnloadTask | ListTask | ExitTask | StateFreeTask;

export interface LoadResult { ok: true; info: OnnxModelInfo; threadId: number }
export interface RunResult { ok: true; outputs: WireTensor[]; timing: RunTiming }
export interface UnloadResult { ok: true; released: boolean }
export interface StateFreeResult { ok: true; freed: number }
export interface ListResult { ok: true; keys: string[]; soloKeys: string[]; threadId: number }
export interface FailedResult { ok: false; error: ErrorData }
