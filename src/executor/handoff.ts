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
 * ~230 us to ~50 us on a tabular model (`bench/idle-path.ts`). Under a flow of
 * concurrent requests nothing spins, so no CPU is taken from the front end or from
 * other workers. One exception, a burst (`Arrivals` below: a stream's messages read
 * at once into an idle server): the worker that ran its first batch polls, for at
 * most ~300 us, for the batch the rest of it makes, and the batch goes to that
 * worker (`Channel.unanswered`: it is free once it has answered, before this thread
 * has collected the answer).
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
import { HINT_ACTIVE, HINT_BURST, HINT_MULTI_AT, hintTick, hotQuiet, pollFor } from '../worker/hint.js';
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

/**
 * Counts requests in and out of the hint block (HINT_ACTIVE, HINT_MULTI_AT), and tells
 * a burst from a flow (HINT_BURST, `burstHot`): the requests that reach an idle server
 * in one turn of the event loop (the messages of a stream, read at once) are a burst
 * until one more arrives in a later turn while they are in the server. The turn ends
 * at the check phase (setImmediate), after the turn's I/O. Under a steady flow (64
 * unary calls, 64 HTTP connections) the server is never idle, so nothing changes there.
 */
export class Arrivals {
  readonly #hint: Int32Array;
  /** The turn that found the server idle is still running: its arrivals join the burst. */
  #open = false;
  readonly #close = (): void => { this.#open = false; };

  constructor(hint: Int32Array) {
    this.#hint = hint;
  }

  in(): void {
    const hint = this.#hint;
    if (Atomics.add(hint, HINT_ACTIVE, 1) === 0) {
      Atomics.store(hint, HINT_BURST, 1);
      if (!this.#open) {
        this.#open = true;
        setImmediate(this.#close);
      }
      return;
    }
    Atomics.store(hint, HINT_MULTI_AT, hintTick());
    // Read first: under a flow this runs per request, and the line is shared with the workers.
    if (!this.#open && Atomics.load(hint, HINT_BURST) !== 0) Atomics.store(hint, HINT_BURST, 0);
  }

  out(): void {
    Atomics.sub(this.#hint, HINT_ACTIVE, 1);
  }
}
