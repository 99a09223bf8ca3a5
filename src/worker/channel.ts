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
