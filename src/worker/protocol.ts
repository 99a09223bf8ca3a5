/**
 * Messages between the main thread and the ONNX Runtime worker threads over the
 * port (the shared-memory slot carries small runs, see ./channel.ts). Plain data
 * only: everything here crosses a thread boundary by structured clone, and the
 * buffers of the tensors in it are transferred (unusable by the sender after the post).
 */
import type { ErrorData } from '../errors/errors.js';
import type { OnnxModelInfo } from '../config/model-config.js';
import type { RunTensor, RunTiming, SequenceRun, SessionSpec } from '../types/run.js';

export interface LoadTask { op: 'load'; spec: SessionSpec }
/**
 * `rows` in the batch, `largest`: rows of its largest request (they size its share
 * of the outputs). `solo`: the run is long enough to use the solo session when the
 * server is quiet (the executor's run-duration estimate decides; see ../executor/estimate.ts).
 */
export interface RunTask {
  op: 'run'; spec: SessionSpec; inputs: RunTensor[]; outputs: string[]; rows: number; largest: number; solo: boolean; seq?: SequenceRun;
}
/** Drop the sequence state kept for these slots of a session (idle timeout, close). */
export interface StateFreeTask { op: 'state-free'; key: string; slots: string[] }
export interface UnloadTask { op: 'unload'; key: string }
export interface ListTask { op: 'list' }
/** Test-only: the worker calls process.exit(code), as a crashing worker would die. */
export interface ExitTask { op: 'exit'; code: number }
export type WorkerTask = LoadTask | RunTask | UnloadTask | ListTask | ExitTask | StateFreeTask;

export interface LoadResult { ok: true; info: OnnxModelInfo; threadId: number }
export interface RunResult { ok: true; outputs: RunTensor[]; timing: RunTiming }
export interface UnloadResult { ok: true; released: boolean }
export interface StateFreeResult { ok: true; freed: number }
export interface ListResult { ok: true; keys: string[]; soloKeys: string[]; threadId: number }
export interface FailedResult { ok: false; error: ErrorData }

/** The buffers to transfer with tensors sent by port (each once). */
export function transferList(tensors: readonly RunTensor[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const t of tensors) {
    const b = t.data.buffer;
    if (b instanceof ArrayBuffer && !out.includes(b)) out.push(b);
  }
  return out;
}
