/**
 * The one run-duration estimate of a model version: an EWMA of the compute time
 * (input + infer + output, as the worker measures it) of its runs on a plain
 * session. The executor records every run into it; everything that needs to know
 * how long a run takes reads it: the batcher's deadline feasibility
 * (`ModelVersion`), the main thread's hot-hand-off poll (`pool.ts`), and whether a
 * run is long enough for the instance's solo session (the worker obeys the flag the
 * executor sends).
 *
 * A solo run counts as its time times the solo session's thread count: n threads
 * run it at most n times faster than the plain session's one, so that is an upper
 * bound of the plain run it stands for. Counting solo runs at their own time would
 * pull the estimate under the solo threshold and flip every other run back to the
 * plain session; leaving them out (the first version) trapped the estimate: a
 * version's first run is cold (tabular: 1.8 ms, against ~20 us warm), that one run
 * made it solo-worthy, every later run at concurrency 1 took the solo session and
 * went unrecorded, so the estimate stayed at 1.8 ms for good, the main thread never
 * polled for a 20 us run, and a 5 us model ran on two spinning intra-op threads.
 */
import type { RunTiming } from '../types/run.js';

/** Runs shorter than this (us) never use a solo session: two threads only pay off on longer runs. */
export const SOLO_MIN_US = 300;

/**
 * Longest the main thread polls for an answer (hot hand-off, see pool.ts), and the
 * runs it does it for: those estimated at most half of it.
 */
export const MAIN_SPIN_US = 200;

const WEIGHT = 0.2;

export class RunEstimate {
  #us = 0;
  readonly #soloThreads: number;

  /** `soloThreads`: intra-op threads of the version's solo sessions (SessionSettings.soloIntraOpThreads; 0 or 1 when none). */
  constructor(soloThreads = 1) {
    this.#soloThreads = Math.max(1, soloThreads);
  }

  /** Estimated compute time of one run, us (0 until the first run). */
  get us(): number { return this.#us; }

  /** The same in ms (the batcher's clock). */
  get ms(): number { return this.#us / 1000; }

  /** Long enough to gain from the solo session. */
  get soloWorthy(): boolean { return this.#us >= SOLO_MIN_US; }

  /** Short enough for the main thread to poll for the answer. */
  get short(): boolean { return this.#us * 2 <= MAIN_SPIN_US; }

  record(t: RunTiming): void {
    const us = ((t.inputNs + t.inferNs + t.outputNs) / 1000) * (t.solo ? this.#soloThreads : 1);
    this.#us = this.#us === 0 ? us : this.#us * (1 - WEIGHT) + us * WEIGHT;
  }
}
