/**
 * The worker pool: `workers` single-thread piscina pools, one per worker thread,
 * so that a model instance can be pinned to a thread (piscina alone cannot target a
 * thread) while keeping piscina's Atomics wake-up path, task queue and replacement
 * of crashed workers. Main thread only.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { Internal, fromErrorData } from '../errors/errors.js';
import type { OnnxModelInfo } from '../config/model-config.js';
import type {
  FailedResult, ListResult, LoadResult, RunResult, SessionSpec, UnloadResult, WireTensor, WorkerTask,
} from '../worker/protocol.js';

const WORKER_FILE = new URL('../worker/ort-worker.js', import.meta.url).href;

export interface ThreadBudget { workers: number; intraOpThreads: number }

/**
 * Default thread budget: one worker per core, one ONNX Runtime intra-op thread per
 * worker. Measured on 2 cores: two single-threaded workers beat one session with two
 * threads, and more ORT threads than cores costs 30-60%; the front end's thread is
 * mostly idle while workers compute, so it shares a core rather than reserving one.
 * `--worker-threads` / `--intra-op-threads` (or the model's `intra_op_thread_count`)
 * override it.
 */
export function threadBudget(workerThreads = 0, intraOpThreads = 0): ThreadBudget {
  const cores = Math.max(1, availableParallelism());
  return { workers: workerThreads > 0 ? workerThreads : cores, intraOpThreads: intraOpThreads > 0 ? intraOpThreads : 1 };
}

type Result = LoadResult | RunResult | UnloadResult | ListResult | FailedResult;

function unwrap<T extends { ok: true }>(r: T | FailedResult): T {
  if (!r.ok) throw fromErrorData(r.error);
  return r;
}

export class WorkerPool {
  readonly size: number;
  readonly #threads: Piscina<WorkerTask, Result>[];
  /** Tasks queued or running per thread: the load measure for least-loaded dispatch. */
  readonly #busy: Int32Array;
  #closed = false;

  constructor(workers: number) {
    this.size = workers;
    this.#busy = new Int32Array(workers);
    this.#threads = [];
    for (let i = 0; i < workers; i++) {
      this.#threads.push(new Piscina<WorkerTask, Result>({
        filename: WORKER_FILE,
        minThreads: 1,
        maxThreads: 1,
        concurrentTasksPerWorker: 1,
        idleTimeout: Infinity,
        atomics: 'sync',
      }));
    }
  }

  /** Current load of one thread (tasks queued or running). */
  load(thread: number): number {
    return this.#busy[thread]!;
  }

  async #call(thread: number, task: WorkerTask, transferList?: ArrayBuffer[]): Promise<Result> {
    if (this.#closed) throw new Internal('worker pool is closed');
    this.#busy[thread]!++;
    try {
      return await this.#threads[thread]!.run(task, transferList ? { transferList } : undefined);
    } finally {
      this.#busy[thread]!--;
    }
  }

  /** Create the session on the given threads; returns the model's signature. */
  async loadOn(threads: readonly number[], spec: SessionSpec): Promise<OnnxModelInfo> {
    const results = await Promise.all(threads.map((t) => this.#call(t, { op: 'load', spec })));
    let info: OnnxModelInfo | undefined;
    for (const r of results) info = unwrap(r as LoadResult | FailedResult).info;
    return info!;
  }

  async unloadOn(threads: readonly number[], key: string): Promise<void> {
    await Promise.all(threads.map((t) => this.#call(t, { op: 'unload', key })));
  }

  /**
   * Run one batch on a thread. The input buffers are transferred: unusable by the
   * caller after this call. The output buffers arrive transferred too.
   */
  async run(thread: number, spec: SessionSpec, inputs: WireTensor[], outputs: string[]): Promise<RunResult> {
    const transfer = inputs.map((i) => i.buffer);
    const r = await this.#call(thread, { op: 'run', spec, inputs, outputs }, transfer);
    return unwrap(r as RunResult | FailedResult);
  }

  /** Session keys held by each thread (tests and the admin surface read it). */
  async sessions(): Promise<string[][]> {
    const all = await Promise.all(this.#threads.map((_, t) => this.#call(t, { op: 'list' })));
    return all.map((r) => unwrap(r as ListResult | FailedResult).keys);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#threads.map((p) => p.destroy()));
  }
}
