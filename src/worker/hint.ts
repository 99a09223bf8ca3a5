/**
 * The pool-wide hint block (a small SharedArrayBuffer every worker and the main
 * thread share) and the hot hand-off's gates: how many requests the server has in
 * hand, which worker is polling, when the server last held two requests at once,
 * and the rest that stops polls on a machine short of cores. Both sides import this
 * file; `./channel.ts` is the per-worker request/response channel, the main
 * thread's half of the policy is `../executor/handoff.ts`.
 */
/** Indices: requests the server has in hand, and which worker (threadId) is polling. */
export const HINT_ACTIVE = 0;
export const HINT_SPINNER = 16;
/** Clock tick (see `hintTick`) at which the server last held two requests at once. */
export const HINT_MULTI_AT = 32;
export const HINT_BYTES = 256;
/**
 * A worker that finishes its last request while the server holds at most this many
 * requests keeps polling for the next one (for at most its spin budget) instead of
 * sleeping: at concurrency 1 the next request then starts without a wake-up.
 */
export const SPIN_MAX_ACTIVE = 1;

/** A coarse clock both sides share (performance.now() has a per-thread origin): 16 ms ticks, fits an int32. */
export function hintTick(): number {
  return Math.floor(Date.now() / 16) % 0x7fffffff;
}

/**
 * True while the server runs at concurrency 1: at most one request in it now, and
 * none beside another for the last ~50 ms. At concurrency 2 the count dips to one
 * between requests; a run that then takes both cores (or a poll that takes one)
 * collides with the next request, so the hot paths wait for a quiet spell.
 */
export function soloQuiet(hint: Int32Array): boolean {
  return Atomics.load(hint, HINT_ACTIVE) <= SPIN_MAX_ACTIVE && ((hintTick() - Atomics.load(hint, HINT_MULTI_AT)) | 0) > 3;
}

/**
 * Clock tick (see `hintTick`) at which a hot-hand-off poll last lost its core: it saw
 * the clock jump between two looks, so another thread wanted that core. Neither side
 * polls for HINT_REST_TICKS after that (see `hotQuiet`, `markContended`).
 */
export const HINT_CONTENDED_AT = 48;
/** Ticks the current rest lasts (0: not set yet, CONTENDED_REST_TICKS). */
export const HINT_REST_TICKS = 49;
/** Lost polls counted toward a rest (see `markContended`), and the tick the count started at. */
export const HINT_STRIKES = 50;
export const HINT_STRIKES_AT = 51;
/**
 * A rest starts at the STRIKES_TO_REST-th lost poll within STRIKE_WINDOW_TICKS (~1 s).
 * One lost poll now and then is what a quiet 2-core machine does at concurrency 1
 * (the load generator, the main thread and a polling worker are three threads): with
 * a rest at every one, the rest doubled to ~2 s and stayed there, and the hot
 * hand-off was off nearly all the time (a worker's poll lost its core 10 times in
 * 12 s of wrk c=1 on a quiet machine; wrk c=1 after heavy load: 6.6-8.3k req/s
 * with a rest per lost poll, 10.8-11.4k with three, the naive server 9.8-10.3k;
 * bench/README.md "Concurrency 1 and waking workers"). A busy machine loses polls
 * many times a second and still rests.
 */
export const STRIKES_TO_REST = 3;
export const STRIKE_WINDOW_TICKS = 64;
/** ~256 ms (16 ms ticks): the first rest. */
export const CONTENDED_REST_TICKS = 16;
/** ~2 s: the longest rest, so a machine that has gone quiet gets the hot hand-off back soon. */
export const MAX_REST_TICKS = 128;
/**
 * A gap this long (ms) between two reads of the clock inside a poll means the thread
 * lost its core for a scheduler slice (a poll's turn takes well under a microsecond).
 * Not less: a 50 us threshold (the first version) also caught short blips, and on a
 * nearly idle machine (load 0.7) it kept the hot hand-off resting: tabular c=1 p50
 * 128-148 us against 71 us for the same poll with no rest (bench/README.md). With
 * 1 ms a moderately busy machine (load 3.5) is no longer caught; a busy one still is.
 */
export const PREEMPTED_MS = 1;

function restTicks(hint: Int32Array): number {
  return Atomics.load(hint, HINT_REST_TICKS) || CONTENDED_REST_TICKS;
}

/**
 * True while the hot hand-off may poll: the server runs at concurrency 1
 * (`soloQuiet`) and no poll lost its core lately. A poll that competes with other
 * runnable threads for two cores (the load generator, the main thread, other
 * programs) delays them by whole scheduler slices; the rest hands the cores back.
 */
export function hotQuiet(hint: Int32Array): boolean {
  return soloQuiet(hint) && rested(hint);
}

/** No poll lost its core within the current rest (see `markContended`). */
function rested(hint: Int32Array): boolean {
  return ((hintTick() - Atomics.load(hint, HINT_CONTENDED_AT)) | 0) > restTicks(hint);
}

/**
 * 1 while every request in the server arrived in the turn that found it idle (a
 * burst: the messages of a stream read at once), 0 once one arrives in a later turn
 * beside others (a flow). Kept by ../executor/handoff.ts's `Arrivals`.
 */
export const HINT_BURST = 52;

/**
 * True while the server answers a burst (HINT_BURST) and no poll lost its core lately.
 * A burst is all its client sends until it is answered, so nothing competes with a
 * worker that polls for its next batch meanwhile: the client waits, and the main
 * thread has only the burst to read and answer. A 64-message stream (h2load, one
 * stream at a time) is read in one turn and runs as a batch of 1 and one of 63; the
 * second then found its worker asleep, and its wake-up (20-250 us on a VM) was on
 * the burst's critical path every time.
 */
export function burstHot(hint: Int32Array): boolean {
  return Atomics.load(hint, HINT_BURST) !== 0 && rested(hint);
}

/**
 * A poll lost its core: a strike; the STRIKES_TO_REST-th within STRIKE_WINDOW_TICKS
 * starts a rest. A rest that starts within two rests of the previous one (the
 * machine stayed busy) lasts twice as long, up to MAX_REST_TICKS; after a longer
 * quiet spell it starts over at CONTENDED_REST_TICKS. Under sustained load this
 * leaves a few probing polls per ~2 s.
 */
export function markContended(hint: Int32Array): void {
  const now = hintTick();
  if (((now - Atomics.load(hint, HINT_STRIKES_AT)) | 0) > STRIKE_WINDOW_TICKS) {
    Atomics.store(hint, HINT_STRIKES_AT, now);
    Atomics.store(hint, HINT_STRIKES, 0);
  }
  if (Atomics.add(hint, HINT_STRIKES, 1) + 1 < STRIKES_TO_REST) return;
  Atomics.store(hint, HINT_STRIKES, 0);
  const rest = restTicks(hint);
  const again = ((now - Atomics.load(hint, HINT_CONTENDED_AT)) | 0) <= 2 * rest;
  Atomics.store(hint, HINT_REST_TICKS, again ? Math.min(rest * 2, MAX_REST_TICKS) : CONTENDED_REST_TICKS);
  Atomics.store(hint, HINT_CONTENDED_AT, now);
}

/**
 * Poll until `ready()` (true) or `budgetUs` passes (false). With `rest`, a poll that
 * finds itself descheduled (the clock jumped by PREEMPTED_MS between two looks)
 * stops at once and starts a rest (`markContended`), so that neither side polls for
 * a while (`hotQuiet`).
 */
export function pollFor(hint: Int32Array, budgetUs: number, rest: boolean, ready: () => boolean): boolean {
  let last = performance.now();
  const until = last + budgetUs / 1000;
  const gap = rest ? PREEMPTED_MS : Infinity;
  for (;;) {
    if (ready()) return true;
    const now = performance.now();
    if (now - last > gap) {
      markContended(hint);
      return ready();
    }
    if (now > until) return false;
    last = now;
  }
}
