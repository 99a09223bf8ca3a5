/**
 * Messages between the main thread and the ONNX Runtime worker threads. Plain data
 * only: everything here crosses a thread boundary by structured clone, and the
 * ArrayBuffers in it are transferred (unusable by the sender after the post).
 */
import type { ErrorData } from '../errors/errors.js';
import type { OnnxModelInfo } from '../config/model-config.js';
import type { RunTiming, WireTensor } from '../types/run.js';

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

export interface LoadTask { op: 'load'; spec: SessionSpec }
/** `rows` in the batch, `largest`: rows of its largest request (they size its share of the outputs). */
export interface RunTask { op: 'run'; spec: SessionSpec; inputs: WireTensor[]; outputs: string[]; rows?: number; largest?: number }
export interface UnloadTask { op: 'unload'; key: string }
export interface ListTask { op: 'list' }
/** Test-only: the worker calls process.exit(code), as a crashing worker would die. */
export interface ExitTask { op: 'exit'; code: number }
export type WorkerTask = LoadTask | RunTask | UnloadTask | ListTask | ExitTask;

export interface LoadResult { ok: true; info: OnnxModelInfo; threadId: number }
export interface RunResult { ok: true; outputs: WireTensor[]; timing: RunTiming }
export interface UnloadResult { ok: true; released: boolean }
export interface ListResult { ok: true; keys: string[]; soloKeys: string[]; threadId: number }
export interface FailedResult { ok: false; error: ErrorData }
