/**
 * Worker thread entry for `WorkerPool`: serves the shared-memory channel described in
 * `channel.ts`, in sequence order, until asked to stop. While idle it sleeps in
 * `Atomics.wait` (after a short poll when the server is nearly idle, see `spin`), and
 * a notify from the main thread wakes it: no event-loop turn, no message event and no
 * structured clone stand between a small request and ONNX Runtime (CPU sessions run
 * synchronously, see ./session.ts). The event loop still runs whenever a request
 * awaits (session creation, a public-API session's run), and the thread only blocks
 * when it has nothing left to do.
 */
import { receiveMessageOnPort, threadId, workerData, type MessagePort } from 'node:worker_threads';
import { ResponseTooLarge, toErrorData } from '../errors/errors.js';
import {
  CTL_BYTES, CTL_READY, CTL_REQ, CTL_RESP, CTL_SHUTDOWN, CTL_SLEEPING, CTL_STARTED, REQ_INLINE_RUN, RESP_PORT, fitsInline, readRunRequest, setTiming, slotViews, writeRunResponse, type ChannelLayout, type SlotView,
} from './channel.js';
import { lowerThreadPriority } from './nice.js';
import { HINT_ACTIVE, HINT_BURST, HINT_BYTES, HINT_SPINNER, SPIN_MAX_ACTIVE, burstHot, hotQuiet, pollFor, soloQuiet } from './hint.js';
import { execute, existingSession, existingSolo, renewSessions, serve, setMaxResponseBytes, toWire } from './ort-worker.js';
import type { RunTensor } from '../types/run.js';
import { transferList, type FailedResult, type WorkerTask } from './protocol.js';

/** How a worker waits for requests and what it enforces (WorkerPoolOptions). */
export interface WorkerTuning {
  /** Longest poll for the next request before sleeping, at concurrency 1 (0: always sleep). */
  spinUs: number;
  /** Longest poll for the rest of a burst (WorkerPoolOptions.burstSpinUs, capped at spinUs). */
  burstSpinUs: number;
  /** Stop polling when a poll loses its core, and rest (WorkerPoolOptions.spinRest). */
  spinRest: boolean;
  /** --max-response-bytes (Infinity: none). */
  maxResponseBytes: number;
  /** Nice levels the worker thread runs below the main thread (--worker-nice; 0: the same). */
  nice: number;
}

export interface ChannelWorkerData extends WorkerTuning {
  sab: SharedArrayBuffer;
  /** The pool-wide hint block (HINT_*). */
  hint: SharedArrayBuffer;
  port: MessagePort;
  layout: ChannelLayout;
}

const { sab, hint: hintSab, port, layout, spinUs, burstSpinUs, spinRest, maxResponseBytes, nice } = workerData as ChannelWorkerData;
setMaxResponseBytes(maxResponseBytes);
lowerThreadPriority(nice);
const ctl = new Int32Array(sab, 0, CTL_BYTES / 4);
const hint = new Int32Array(hintSab, 0, HINT_BYTES / 4);
const slots = slotViews(sab, layout);
const mask = layout.slots - 1;

function reply(v: SlotView, result: unknown, transfer: ArrayBuffer[] = []): void {
  try {
    port.postMessage(result, transfer);
  } catch (err) {
    const failed: FailedResult = { ok: false, error: toErrorData(err) };
    port.postMessage(failed);
  }
  v.i32[0] = RESP_PORT;
}

/**
 * Run on the key's session: the solo one (more intra-op threads) when the executor
 * marked the run long enough to gain from it (`solo`, from its run-duration
 * estimate) and the server runs at concurrency 1 now (`soloQuiet`), else the plain
 * one. The caller checked that the plain session exists.
 */
async function runOn<T>(
  key: string, inputs: readonly RunTensor[], outputs: readonly string[], rows: number, largest: number, soloOk: boolean,
  emit: (outs: RunTensor[], inputNs: number, inferNs: number, t2: bigint, solo: boolean) => T,
): Promise<T> {
  const solo = soloOk && soloQuiet(hint) ? existingSolo(key) : undefined;
  const s = await (solo ?? existingSession(key)!);
  return execute(s, inputs, outputs, (outs, inputNs, inferNs, t2) => emit(outs, inputNs, inferNs, t2, solo !== undefined), rows, largest)
    .catch(async (err: unknown) => {
      if (err instanceof ResponseTooLarge) await renewSessions(key);
      throw err;
    });
}

/**
 * Where inline runs' inputs are copied out of shared memory, by input index, reused
 * run after run: this loop awaits each run before reading the next request.
 */
const inputBuffers: Uint8Array[] = [];

async function serveInline(v: SlotView): Promise<void> {
  try {
    const req = readRunRequest(v, inputBuffers);
    if (existingSession(req.key) === undefined) {
      // The main thread only sends inline runs for sessions it knows this worker holds.
      const failed: FailedResult = { ok: false, error: { code: 'INTERNAL', message: `session '${req.key}' is not loaded on this worker` } };
      reply(v, failed);
      return;
    }
    await runOn(req.key, req.inputs, req.outputs, req.rows, req.largest, req.solo, (outs, inputNs, inferNs, t2, solo) => {
      if (fitsInline(v, outs)) {
        writeRunResponse(v, outs);
        setTiming(v, { inputNs, inferNs, outputNs: Number(process.hrtime.bigint() - t2), solo });
      } else {
        const r = toWire(outs, inputNs, inferNs, t2, solo);
        reply(v, r, transferList(r.outputs));
      }
    });
  } catch (err) {
    const failed: FailedResult = { ok: false, error: toErrorData(err) };
    reply(v, failed);
  }
}

async function servePort(v: SlotView): Promise<void> {
  const m = receiveMessageOnPort(port);
  if (m === undefined) {
    const failed: FailedResult = { ok: false, error: { code: 'INTERNAL', message: 'worker found no request on its port' } };
    reply(v, failed);
    return;
  }
  const task = m.message as WorkerTask;
  // Sequence runs take serve()'s path, which adds and keeps their implicit state.
  if (task.op === 'run' && task.seq === undefined && existingSession(task.spec.key) !== undefined) {
    try {
      const r = await runOn(task.spec.key, task.inputs, task.outputs, task.rows, task.largest, task.solo, toWire);
      reply(v, r, transferList(r.outputs));
    } catch (err) {
      const failed: FailedResult = { ok: false, error: toErrorData(err) };
      reply(v, failed);
    }
    return;
  }
  const { result, transfer } = await serve(task);
  reply(v, result, transfer);
}

function available(next: number): boolean {
  return ((Atomics.load(ctl, CTL_REQ) - next) | 0) >= 0;
}

function stopping(): boolean {
  return Atomics.load(ctl, CTL_SHUTDOWN) !== 0;
}

/**
 * Block until request `next` has been published; false when asked to stop instead (the
 * main thread sets CTL_SHUTDOWN, then changes REQ, so the flag is always seen first).
 * SLEEPING is raised before REQ is read, and the main thread reads SLEEPING after
 * publishing, so either this thread sees the new REQ or the main thread notifies.
 */
function waitFor(next: number): boolean {
  if (!available(next) && spinUs > 0) spin(next);
  for (;;) {
    if (stopping()) return false;
    if (available(next)) return true;
    Atomics.store(ctl, CTL_SLEEPING, 1);
    const req = Atomics.load(ctl, CTL_REQ);
    if (((req - next) | 0) < 0) Atomics.wait(ctl, CTL_REQ, req);
    Atomics.store(ctl, CTL_SLEEPING, 0);
  }
}

/**
 * Poll (awake, SLEEPING stays 0, so the main thread does not notify) for request
 * `next`, for at most `spinUs`, while the server is nearly idle, or while the rest
 * of a burst is still being read (`burstHot`), and no other worker is spinning. A
 * wake-up from Atomics.wait costs 20-250 us on a VM (the idle vCPU must be woken,
 * and the caches are cold afterwards), ten times a small model's run; polling costs
 * a core for the budget. It is only worth it when the main thread and the client
 * are not short of CPU, hence the gates: one spinner at a time; at concurrency 1 it
 * stops as soon as a second request is in the server (unless the two came as a
 * burst); in a burst, as soon as
 * requests flow in or its answers go out (the count drops: the rest of it is in
 * flight, and the main thread and the client are busy with the answers).
 */
function spin(next: number): void {
  const solo = hotQuiet(hint);
  if (!solo && !burstHot(hint)) return;
  if (Atomics.compareExchange(hint, HINT_SPINNER, 0, threadId) !== 0) return;
  if (!solo) burstCount = Atomics.load(hint, HINT_ACTIVE);
  try {
    pollFor(hint, solo ? spinUs : burstSpinUs, spinRest, () => available(next) || stopping() || (solo ? flowing() : burstOver()));
  } finally {
    Atomics.store(hint, HINT_SPINNER, 0);
  }
}

/** The requests in the server when a burst's poll began. */
let burstCount = 0;

/** The burst is over for its poll: requests flow in, or its answers go out (the count dropped). */
function burstOver(): boolean {
  return Atomics.load(hint, HINT_BURST) === 0 || Atomics.load(hint, HINT_ACTIVE) < burstCount;
}

/** Requests flow in beside others: no longer concurrency 1, nor a burst. */
function flowing(): boolean {
  return Atomics.load(hint, HINT_ACTIVE) > SPIN_MAX_ACTIVE && Atomics.load(hint, HINT_BURST) === 0;
}

/**
 * Requests served back to back before the loop lets the event loop turn once anyway.
 * CPU sessions run synchronously (./session.ts) and this thread blocks in
 * Atomics.wait, so without these turns its event loop would never run, and what
 * Node queues there would wait for good: on Node 22+ the N-API finalizers that free
 * ONNX Runtime's output buffers run from it (repeated 72 MB answers refused by
 * --max-response-bytes grew RSS by 230 MB on Node 24 without these turns,
 * test/executor/response-limit.test.ts), as do V8's GC tasks.
 */
const TURN_EVERY = 32;

/** One event-loop turn (see TURN_EVERY). */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function loop(): Promise<void> {
  let next = 1;
  let served = 0;
  Atomics.store(ctl, CTL_READY, 1);
  for (;;) {
    // A turn before waiting (the next request is not here yet: the turn costs no
    // request anything), and one every TURN_EVERY requests under sustained load.
    if (!available(next) || ++served >= TURN_EVERY) {
      served = 0;
      await turn();
    }
    if (!waitFor(next)) break;
    Atomics.store(ctl, CTL_STARTED, next);
    const v = slots[next & mask]!;
    if (v.i32[0] === REQ_INLINE_RUN) await serveInline(v);
    else await servePort(v);
    Atomics.store(ctl, CTL_RESP, next);
    Atomics.notify(ctl, CTL_RESP);
    next = (next + 1) | 0;
  }
}

// Asked to stop (the pool is closing): leave between requests, never inside ONNX Runtime.
void loop().then(() => process.exit(0));
