/**
 * The executor: the one interface between a model version and the worker threads.
 * A version asks it to place its instances (`place`), and then asks its `Instances`
 * to create and release their sessions and to run batches; which thread runs a
 * batch, waking or polling a worker, solo sessions and the shared-memory hand-off
 * are decided here and in `./pool.ts` and `../worker/`, nowhere else.
 *
 * Thread choice. Each instance of a version is pinned to a thread of its own where
 * the pool has room (`WorkerPool.allocate`). A batch goes to the instance thread
 * with the least work queued, avoiding threads that are creating or releasing a
 * session (that blocks the thread), and among idle ones preferring a worker that is
 * awake (the hot hand-off, see pool.ts).
 *
 * Requests in hand. Every request a version takes is counted in here (`track`) until
 * it is answered: the hot hand-off only runs while the server holds at most one.
 */
import type { OnnxModelInfo } from '../config/model-config.js';
import type { RunInput, SequenceRun, SessionSpec } from '../types/run.js';
import type { RunResult } from '../worker/protocol.js';
import { RunEstimate } from './estimate.js';
import { WorkerPool, type WorkerPoolOptions } from './pool.js';

export type { WorkerPoolOptions as ExecutorOptions } from './pool.js';

export class Executor {
  readonly #pool: WorkerPool;

  constructor(workers: number, options: WorkerPoolOptions = {}) {
    this.#pool = new WorkerPool(workers, options);
  }

  /**
   * Place `count` instances (at least one) of a model version on worker threads. Its
   * sessions are created by `Instances.load` and released by `Instances.unload`.
   */
  place(spec: SessionSpec, count: number): Instances {
    return new Instances(this.#pool, spec, this.#pool.allocate(Math.max(1, count)));
  }

  /** Worker threads started so far. */
  get size(): number { return this.#pool.size; }

  /** Requests counted in and not yet answered (tests check that every path counts out). */
  get activeRequests(): number { return this.#pool.activeRequests; }

  /** Session keys held by each thread (tests and the admin surface read it). */
  sessions(): Promise<string[][]> { return this.#pool.sessions(); }

  /** Keys of the solo sessions held by each thread. */
  soloSessions(): Promise<string[][]> { return this.#pool.soloSessions(); }

  /** Fail what is queued and stop the workers (each finishes the run it is in). */
  close(): Promise<void> { return this.#pool.close(); }
}

/** One version's instances: their threads, their sessions, their runs, and the version's run-duration estimate. */
export class Instances {
  /** The worker thread of each instance (instance i runs on threads[i]); for logs and tests. */
  readonly threads: readonly number[];
  /** The version's one run-duration estimate (see ./estimate.ts). */
  readonly estimate: RunEstimate;
  readonly #pool: WorkerPool;
  readonly #spec: SessionSpec;
  #released = false;
  readonly #end: () => void;

  constructor(pool: WorkerPool, spec: SessionSpec, threads: readonly number[]) {
    this.#pool = pool;
    this.#spec = spec;
    this.threads = threads;
    this.estimate = new RunEstimate(spec.settings.soloIntraOpThreads);
    this.#end = () => pool.endRequest();
  }

  /** Number of instances. */
  get count(): number { return this.threads.length; }

  /** True while the server holds no request counted in by `track` (any version's). */
  get serverIdle(): boolean { return this.#pool.activeRequests === 0; }

  /** True while the server runs at concurrency 1 (any version's requests; see WorkerPool.quiet). */
  get serverQuiet(): boolean { return this.#pool.quiet; }

  /**
   * Create the session on every instance thread; returns the model's signature.
   * Creating a session blocks its thread (ONNX Runtime loads synchronously there),
   * and batches queued on that thread wait behind it. On threads no other version
   * uses (the usual placement: a thread per instance) all instances load at once; on
   * shared threads one at a time, marked so that batches (every model's) go to
   * other threads meanwhile.
   */
  async load(): Promise<OnnxModelInfo> {
    const pool = this.#pool;
    const together = this.threads.every((t) => pool.instancesOn(t) <= 1);
    let info: OnnxModelInfo | undefined;
    for (const group of together ? [this.threads] : this.threads.map((t) => [t])) info = await pool.loadOn(group, this.#spec);
    return info!;
  }

  /**
   * Release the sessions (thread by thread: releasing a large session holds its
   * thread for a moment, and other models' batches can go elsewhere meanwhile) and
   * give the threads back. Idempotent.
   */
  async unload(): Promise<void> {
    if (this.#released) return;
    try {
      for (const t of this.threads) await this.#pool.unloadOn([t], this.#spec.key);
    } finally {
      if (!this.#released) this.#pool.release(this.threads);
      this.#released = true;
    }
  }

  /** Count a request in until `p` settles (the hot hand-off reads the count). Returns `p`. */
  track<T>(p: Promise<T>): Promise<T> {
    this.#pool.beginRequest();
    p.then(this.#end, this.#end);
    return p;
  }

  /** True when some instance thread has nothing queued or running. */
  hasIdleInstance(): boolean {
    for (const t of this.threads) if (this.#pool.load(t) === 0) return true;
    return false;
  }

  /**
   * Run one batch on whichever instance thread should take it (see the header). The
   * inputs' parts must stay valid until this settles; the outputs belong to the caller.
   */
  async run(inputs: readonly RunInput[], outputs: string[], rows: number, largest: number): Promise<RunResult> {
    const pool = this.#pool;
    let best = -1;
    let bestCost = Infinity;
    for (const t of this.threads) {
      // A session being created counts as more work than any queue of batches.
      const cost = pool.load(t) + (pool.creating(t) ? 1e6 : 0) + (pool.awake(t) ? 0 : 0.5);
      if (cost < bestCost) { best = t; bestCost = cost; }
    }
    const r = await pool.run(best, this.#spec, inputs, outputs, { rows, largest, estimate: this.estimate });
    this.estimate.record(r.timing);
    return r;
  }

  /** Run a sequence batch on instance `instance` (where its slots' state lives). */
  async runSequence(instance: number, inputs: readonly RunInput[], outputs: string[], seq: SequenceRun): Promise<RunResult> {
    const r = await this.#pool.run(this.threads[instance]!, this.#spec, inputs, outputs, { rows: seq.rows.length, largest: 1, seq, estimate: this.estimate });
    this.estimate.record(r.timing);
    return r;
  }

  /** Drop the sequence state instance `instance` keeps for some of its slots. */
  freeState(instance: number, slots: string[]): Promise<number> {
    return this.#pool.freeState(this.threads[instance]!, this.#spec.key, slots);
  }
}
