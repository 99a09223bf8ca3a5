/**
 * The shared-memory request/response channel between the main thread and one ONNX
 * Runtime worker thread. Both sides import this file; it holds plain data layout
 * code only (no ONNX Runtime).
 *
 * One SharedArrayBuffer per worker: a control block and a ring of `slots` request
 * slots. Every request, whatever its kind, takes the next sequence number and the
 * slot `seq & (slots - 1)`, so the worker serves requests strictly in submission
 * order (per-thread FIFO):
 *
 *  - small runs are written into the slot (binary header + input bytes) and the
 *    worker writes the outputs back into the same slot;
 *  - everything else (large tensors, load, unload, list, runs of a session this
 *    worker has not created yet, whose request must carry the full SessionSpec)
 *    travels over a MessagePort with its buffers transferred; the slot only says
 *    "read your next port message". Results too large for the slot, and errors,
 *    come back over the port the same way.
 *
 * Wake-ups never use port events: the main thread publishes a request by storing its
 * sequence number in REQ and `Atomics.notify`ing; an idle worker sleeps in
 * `Atomics.wait` on REQ and drains the port with `receiveMessageOnPort`. The worker
 * publishes completion in RESP and notifies; the main thread waits on RESP with
 * `Atomics.waitAsync`, so its event loop stays free while the worker computes.
 * Sequence numbers are int32 and wrap; compare them with `seqBefore`.
 */
import type { RunInput, RunTensor, RunTiming } from '../types/run.js';
import { DATATYPES, type DataType } from '../types/tensor.js';

/** Int32 indices in the control block. REQ is written by the main thread, the rest by the worker (a different cache line). */
export const CTL_REQ = 0;
export const CTL_RESP = 16;
/** Sequence number the worker last started (used to tell started from unstarted requests after a crash). */
export const CTL_STARTED = 17;
/** 1 once the worker has loaded its modules and entered its loop. */
export const CTL_READY = 18;
/** 1 while the worker is (about to be) asleep in Atomics.wait: the main thread only notifies then. */
export const CTL_SLEEPING = 32;
/**
 * Set by the main thread to stop the worker: it exits at its next request boundary.
 * (Never `Worker.terminate()` a worker inside `InferenceSession.run`: onnxruntime-node
 * then throws a C++ exception nobody catches and the whole process aborts.)
 */
export const CTL_SHUTDOWN = 48;
export const CTL_BYTES = 256;

/**
 * The pool-wide hint block (a second, small SharedArrayBuffer shared by every worker):
 * how many requests the server has in hand, and which worker (threadId) is spinning.
 * See "Hot hand-off" in `../executor/pool.ts`.
 */
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
 * 12 s of wrk c=1 on a quiet machine, bench/README.md "Concurrency 1 and waking
 * workers"). A busy machine loses polls many times a second and still rests.
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
  return soloQuiet(hint) && ((hintTick() - Atomics.load(hint, HINT_CONTENDED_AT)) | 0) > restTicks(hint);
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

/** Request kinds (slot word 0, written by the main thread). */
export const REQ_INLINE_RUN = 1;
export const REQ_PORT = 2;
/** Response kinds (slot word 0, written by the worker). */
export const RESP_INLINE = 3;
export const RESP_PORT = 4;

export const HEADER_BYTES = 2048;
const HEADER_INTS = HEADER_BYTES / 4;
/**
 * Response header: word 0 kind, 1 the solo flag, f64 timing at words 2..7, 8 the
 * end of the output bytes, outputs from word 9.
 */
const RESP_SOLO = 1;
const RESP_TIMING_F64 = 1;
const RESP_END = 8;
const RESP_OUT = 9;

export interface ChannelLayout {
  /** Number of ring slots (a power of two): requests a worker can hold at once. */
  slots: number;
  /** Tensor bytes a slot carries inline (inputs on the way in, outputs on the way out). */
  slotDataBytes: number;
}

export function slotBytes(layout: ChannelLayout): number {
  return HEADER_BYTES + layout.slotDataBytes;
}

export function channelBytes(layout: ChannelLayout): number {
  return CTL_BYTES + layout.slots * slotBytes(layout);
}

/** Byte offset of a sequence number's slot. */
export function slotOffset(layout: ChannelLayout, seq: number): number {
  return CTL_BYTES + (seq & (layout.slots - 1)) * slotBytes(layout);
}

/** True when sequence number a comes before b (int32 wrap-around aware). */
export function seqBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

const DTYPE_CODE: ReadonlyMap<DataType, number> = new Map(DATATYPES.map((d, i) => [d, i]));

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Views over one slot. */
export class SlotView {
  readonly i32: Int32Array;
  readonly u16: Uint16Array;
  readonly f64: Float64Array;
  readonly data: Uint8Array;

  constructor(sab: SharedArrayBuffer, offset: number, dataBytes: number) {
    this.i32 = new Int32Array(sab, offset, HEADER_INTS);
    this.u16 = new Uint16Array(sab, offset, HEADER_INTS * 2);
    this.f64 = new Float64Array(sab, offset, HEADER_INTS / 2);
    this.data = new Uint8Array(sab, offset + HEADER_BYTES, dataBytes);
  }
}

export function slotViews(sab: SharedArrayBuffer, layout: ChannelLayout): SlotView[] {
  const out: SlotView[] = [];
  for (let i = 0; i < layout.slots; i++) out.push(new SlotView(sab, slotOffset(layout, i), layout.slotDataBytes));
  return out;
}

// --- header cursor helpers -------------------------------------------------------------

/** Returns the next word index, or -1 when the string does not fit. */
function putString(v: SlotView, at: number, s: string): number {
  const words = (s.length + 1) >> 1;
  if (at + 1 + words > HEADER_INTS) return -1;
  v.i32[at] = s.length;
  const base = (at + 1) * 2;
  for (let i = 0; i < s.length; i++) v.u16[base + i] = s.charCodeAt(i);
  return at + 1 + words;
}

function getString(v: SlotView, at: number): [string, number] {
  const len = v.i32[at]!;
  const base = (at + 1) * 2;
  let s = '';
  // Names and keys are short; fromCharCode on chunks avoids quadratic concatenation for long ones.
  for (let i = 0; i < len; i += 4096) {
    s += String.fromCharCode.apply(null, v.u16.subarray(base + i, base + Math.min(len, i + 4096)) as unknown as number[]);
  }
  return [s, at + 1 + ((len + 1) >> 1)];
}

/** Returns the next word index, or -1 when the shape does not fit (or a dim is not an int32). */
function putShape(v: SlotView, at: number, shape: readonly number[]): number {
  if (at + 1 + shape.length > HEADER_INTS) return -1;
  v.i32[at] = shape.length;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (!(d >= 0 && d <= 0x7fffffff && Number.isInteger(d))) return -1;
    v.i32[at + 1 + i] = d;
  }
  return at + 1 + shape.length;
}

function getShape(v: SlotView, at: number): [number[], number] {
  const n = v.i32[at]!;
  const shape = new Array<number>(n);
  for (let i = 0; i < n; i++) shape[i] = v.i32[at + 1 + i]!;
  return [shape, at + 1 + n];
}

// --- requests (main thread writes, worker reads) -----------------------------------------

/** Request header: word 0 kind, 1 inputs, 2 outputs, 3 rows, 4 largest, 5 solo, key from word 6. */
const REQ_KEY = 6;

/** Data bytes a run's inputs take in a slot (a quick check before encoding). */
export function inlineInputBytes(inputs: readonly RunInput[]): number {
  let n = 0;
  for (const t of inputs) {
    n = align8(n);
    for (const p of t.parts) n += p.byteLength;
  }
  return n;
}

/** Non-shared scratch that `copyToShared` realigns parts in; grows to the largest part seen. */
let scratch = new Uint8Array(0);

/** Parts smaller than this are copied as they are (realigning costs more than it saves). */
const REALIGN_MIN_BYTES = 256;

/**
 * Copy `p` into shared memory at `dst[off]`. V8 copies into and out of a
 * SharedArrayBuffer with relaxed atomic moves: word by word when source and
 * destination sit at the same offset mod 8, byte by byte when not. Measured here
 * (Node 20, a 12 KiB cnn row): 3.6-4.6 us misaligned, 0.5 us aligned, 0.1 us for a
 * plain memcpy between ArrayBuffers. A binary HTTP tensor starts wherever its JSON
 * header ends, so its rows are usually misaligned: they are memcpy'd into the
 * scratch at the destination's alignment first, then copied word by word.
 */
export function copyToShared(dst: Uint8Array, off: number, p: Uint8Array): void {
  const n = p.byteLength;
  const shift = (dst.byteOffset + off) & 7;
  if (((p.byteOffset - shift) & 7) === 0 || n < REALIGN_MIN_BYTES) {
    dst.set(p, off);
    return;
  }
  if (scratch.byteLength < n + 8) scratch = new Uint8Array(Math.max(n + 8, scratch.byteLength * 2));
  scratch.set(p, shift);
  dst.set(scratch.subarray(shift, shift + n), off);
}

/**
 * Write a run request into the slot; false when it does not fit (the caller uses the
 * port). Each input's parts (the batch's requests) are copied straight into the
 * slot: this is the batch's one copy on the inline path.
 */
export function writeRunRequest(
  v: SlotView, key: string, inputs: readonly RunInput[], outputs: readonly string[], rows: number, largest: number, solo: boolean,
): boolean {
  const i32 = v.i32;
  const data = v.data;
  i32[1] = inputs.length;
  i32[2] = outputs.length;
  i32[3] = rows;
  i32[4] = largest;
  i32[5] = solo ? 1 : 0;
  let at = putString(v, REQ_KEY, key);
  let off = 0;
  for (const t of inputs) {
    const code = DTYPE_CODE.get(t.datatype);
    if (at < 0 || code === undefined) return false;
    at = putString(v, at, t.name);
    if (at < 0 || at + 1 > HEADER_INTS) return false;
    i32[at++] = code;
    at = putShape(v, at, t.shape);
    if (at < 0 || at + 2 > HEADER_INTS) return false;
    off = align8(off);
    const start = off;
    for (const p of t.parts) {
      if (off + p.byteLength > data.byteLength) return false;
      copyToShared(data, off, p);
      off += p.byteLength;
    }
    i32[at++] = start;
    i32[at++] = off - start;
  }
  for (const name of outputs) {
    if (at < 0) return false;
    at = putString(v, at, name);
  }
  if (at < 0) return false;
  i32[0] = REQ_INLINE_RUN;
  return true;
}

export interface DecodedRunRequest {
  key: string;
  /** Inputs copied out of the slot into non-shared buffers (ONNX Runtime rejects shared memory). */
  inputs: RunTensor[];
  outputs: string[];
  rows: number;
  largest: number;
  solo: boolean;
}

/**
 * Read one tensor record (datatype, shape, data offset and length) at word `at`; its
 * bytes are a view of `into` at the same offset (outputs, copied out in one piece),
 * or without `into` copied into `reuse[index]` (grown when too small) or, without
 * `reuse`, into a fresh buffer. Leaves the next word index in `next[0]`.
 */
function readTensor(
  v: SlotView, at: number, name: string, next: [number], into: Uint8Array | undefined, reuse?: Uint8Array[], index = 0,
): RunTensor {
  const i32 = v.i32;
  const datatype = DATATYPES[i32[at++]!]!;
  let shape: number[];
  [shape, at] = getShape(v, at);
  const off = i32[at++]!;
  const len = i32[at++]!;
  next[0] = at;
  const src = v.data.subarray(off, off + len);
  let data: Uint8Array;
  if (into === undefined) {
    if (reuse === undefined) {
      data = new Uint8Array(len);
    } else {
      let buf = reuse[index];
      if (buf === undefined || buf.byteLength < len) reuse[index] = buf = new Uint8Array(Math.max(len, 2 * (buf?.byteLength ?? 0)));
      data = buf.subarray(0, len);
    }
    // Both 8-aligned (slot data and buffer start): V8 copies word by word (see copyToShared).
    data.set(src);
  } else {
    // The outputs' bytes were copied out in one piece: a view at the same offset.
    data = into.subarray(off, off + len);
  }
  return { name, datatype, shape, data };
}

/**
 * Read a run request out of the slot. With `reuse` (the worker's), each input's
 * bytes land in `reuse[i]`, kept from run to run: valid until the next call, which
 * is enough for a worker that runs one request at a time, and it saves allocating
 * (and later collecting) a batch-sized buffer per run.
 */
export function readRunRequest(v: SlotView, reuse?: Uint8Array[]): DecodedRunRequest {
  const i32 = v.i32;
  const nIn = i32[1]!;
  const nOut = i32[2]!;
  const rows = i32[3]!;
  const largest = i32[4]!;
  const solo = i32[5] === 1;
  let [key, at] = getString(v, REQ_KEY);
  const inputs: RunTensor[] = [];
  const next: [number] = [0];
  for (let i = 0; i < nIn; i++) {
    let name: string;
    [name, at] = getString(v, at);
    // One buffer per input: each becomes an ONNX Runtime tensor of its own.
    inputs.push(readTensor(v, at, name, next, undefined, reuse, i));
    at = next[0];
  }
  const outputs: string[] = [];
  for (let i = 0; i < nOut; i++) {
    let name: string;
    [name, at] = getString(v, at);
    outputs.push(name);
  }
  return { key, inputs, outputs, rows, largest, solo };
}

// --- responses (worker writes, main thread reads) -----------------------------------------

/** Whether the outputs fit the slot (header and data). */
export function fitsInline(v: SlotView, outputs: readonly RunTensor[]): boolean {
  let at = RESP_OUT + 1;
  let off = 0;
  for (const o of outputs) {
    at += 4 + o.shape.length;
    for (const d of o.shape) if (!(d >= 0 && d <= 0x7fffffff)) return false;
    off = align8(off) + o.data.byteLength;
  }
  return at <= HEADER_INTS && off <= v.data.byteLength;
}

/** Write outputs (already checked with fitsInline) into the slot; the caller then sets the timing. */
export function writeRunResponse(v: SlotView, outputs: readonly RunTensor[]): void {
  const i32 = v.i32;
  i32[RESP_OUT] = outputs.length;
  let at = RESP_OUT + 1;
  let off = 0;
  for (const o of outputs) {
    i32[at++] = DTYPE_CODE.get(o.datatype)!;
    at = putShape(v, at, o.shape);
    off = align8(off);
    v.data.set(o.data, off);
    i32[at++] = off;
    i32[at++] = o.data.byteLength;
    off += o.data.byteLength;
  }
  i32[RESP_END] = off;
  i32[0] = RESP_INLINE;
}

export function setTiming(v: SlotView, timing: RunTiming): void {
  v.f64[RESP_TIMING_F64] = timing.inputNs;
  v.f64[RESP_TIMING_F64 + 1] = timing.inferNs;
  v.f64[RESP_TIMING_F64 + 2] = timing.outputNs;
  v.i32[RESP_SOLO] = timing.solo ? 1 : 0;
}

export interface DecodedRunResponse {
  outputs: RunTensor[];
  timing: RunTiming;
}

/** Read outputs out of the slot into one fresh (caller-owned) buffer, a view per output. */
export function readRunResponse(v: SlotView, names: readonly string[]): DecodedRunResponse {
  const i32 = v.i32;
  const n = i32[RESP_OUT]!;
  const end = i32[RESP_END]!;
  const all = new Uint8Array(end);
  all.set(v.data.subarray(0, end));
  const outputs: RunTensor[] = [];
  const next: [number] = [RESP_OUT + 1];
  for (let i = 0; i < n; i++) {
    outputs.push(readTensor(v, next[0], names[i]!, next, all));
  }
  const timing = { inputNs: v.f64[RESP_TIMING_F64]!, inferNs: v.f64[RESP_TIMING_F64 + 1]!, outputNs: v.f64[RESP_TIMING_F64 + 2]!, solo: v.i32[RESP_SOLO] === 1 };
  return { outputs, timing };
}
