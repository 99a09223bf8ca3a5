/** How many worker threads the executor starts and may grow to, and ONNX Runtime's threads per session. */
import { availableParallelism } from 'node:os';

export interface ThreadBudget {
  /** Worker threads started up front. */
  workers: number;
  /** Most worker threads the pool grows to; equal to `workers` when it is fixed. */
  maxWorkers: number;
  intraOpThreads: number;
  /** Intra-op threads of a CPU instance's solo session (see SessionSettings); 1 = no solo sessions. */
  soloIntraOpThreads: number;
}

/**
 * The thread rule. Every model instance (`instance_group.count`) gets a worker
 * thread of its own, as Triton gives each instance its own thread, so a slow model
 * never holds up another one's requests; each session runs with one ONNX Runtime
 * intra-op thread, so threads that compute at once never outnumber the instances
 * that have work (measured on 2 cores: two single-threaded workers beat one session
 * with two threads, and more ORT threads than cores costs 30-60%). The pool starts
 * one thread per core and grows with instances up to 16 per core (at least 64; an
 * idle worker thread costs ~15 MB and no CPU: it sleeps in Atomics.wait);
 * past that, instances share the least-used threads. `--worker-threads N` fixes the
 * pool at N threads; `--intra-op-threads` (or a model's `intra_op_thread_count`)
 * overrides the intra-op count.
 */
export function threadBudget(workerThreads = 0, intraOpThreads = 0, soloIntraOpThreads = 0): ThreadBudget {
  const cores = Math.max(1, availableParallelism());
  const intra = intraOpThreads > 0 ? intraOpThreads : 1;
  const solo = soloIntraOpThreads > 0 ? soloIntraOpThreads : cores;
  if (workerThreads > 0) return { workers: workerThreads, maxWorkers: workerThreads, intraOpThreads: intra, soloIntraOpThreads: solo };
  return { workers: cores, maxWorkers: Math.max(64, 16 * cores), intraOpThreads: intra, soloIntraOpThreads: solo };
}
