/**
 * The main thread's half of the hot hand-off: when it polls for a worker's answer
 * instead of waiting for it in its event loop. The workers' half (polling for the
 * next request at concurrency 1) is `../worker/channel-worker.ts`; the shared gates and the rest
 * are `../worker/hint.ts`; `./pool.ts` calls these.
 *
 * Hot hand-off. On this kind of machine (a VM) waking a sleeping thread costs 20-250 us,
 * and a model run right after a wake-up is up to twice as slow (cold caches), while a
 * small model runs in ~11-40 us. So, only while the server runs at concurrency 1
 * (`beginRequest`/`endRequest`, called by the executor for each request a model
 * version takes, count requests into a SharedArrayBuffer every worker reads; see
 * `soloQuiet` in ../worker/hint.ts):
 * a worker that runs out of requests polls for the next one for up to `spinUs` before
 * sleeping (one worker at a time); batches prefer that awake worker's instance; and
 * when a request goes to an awake worker whose runs are short (the version's
 * RunEstimate), this thread polls for the answer (at most MAIN_SPIN_US) instead of returning to its event loop, whose
 * wake-up would cost as much again. At concurrency 1 this takes the hand-off from
 * ~230 us to ~50 us on a tabular model (`bench/idle-path.ts`). Under concurrency
 * nothing spins, so no CPU is taken from the front end or from other workers.
 * A poll that finds itself descheduled (the clock jumps between two looks: another
 * thread wanted its core) stops, and neither side polls for ~256 ms, doubling up to
 * ~2 s while polls keep losing (`spinRest`): on a machine short of cores a poll delays
 * the very threads it waits for (the main thread, the client) by whole scheduler
 * slices. Tabular c=1 HTTP/JSON at load 6, medians of five interleaved runs: 1.9k /
 * 1.5k req/s without the rest, 3.3k / 4.1k with it (client unpinned / pinned; the
 * threshold was 50 us then, now PREEMPTED_MS = 1 ms so that a quiet machine does not
 * rest; bench/README.md "Batches per turn, resting polls").
 */
import { CTL_RESP } from '../worker/channel.js';
import { hotQuiet, pollFor } from '../worker/hint.js';
import { MAIN_SPIN_US, type RunEstimate } from './estimate.js';

/**
 * Whether this thread polls for the answer to `task`, the run in flight on a worker
 * that was awake when it got it: the server holds no other request (`hotQuiet`) and
 * the version's runs are short.
 */
export function pollsForAnswer(hint: Int32Array, task: { op: string; estimate?: RunEstimate } | undefined): boolean {
  return task?.op === 'run' && task.estimate?.short === true && hotQuiet(hint);
}

/** Poll for the worker's answer (RESP moving past `last`); true when it came within MAIN_SPIN_US. */
export function awaitAnswer(hint: Int32Array, ctl: Int32Array, last: number, rest: boolean): boolean {
  return pollFor(hint, MAIN_SPIN_US, rest, () => Atomics.load(ctl, CTL_RESP) !== last);
}
