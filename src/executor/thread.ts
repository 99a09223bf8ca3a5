/**
 * One worker thread as the pool sees it: its queue, and the current incarnation of
 * its worker with the shared-memory channel to it (`../worker/channel.ts`).
 * Main thread only.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { CTL_BYTES, CTL_RESP, channelBytes, slotViews, type ChannelLayout, type SlotView } from '../worker/channel.js';
import type { ChannelWorkerData, WorkerTuning } from '../worker/channel-worker.js';
import type { ExitTask, ListTask, LoadTask, StateFreeTask, UnloadTask } from '../worker/protocol.js';
import type { RunEstimate } from './estimate.js';
import type { RunInput, SequenceRun, SessionSpec } from '../types/run.js';

const WORKER_FILE = new URL('../worker/channel-worker.js', import.meta.url);

/**
 * Default tensor bytes a slot carries: a whole batch of the bundled cnn (32 rows of
 * 12 KiB). Batches past the slot go by port: joined on this thread into a fresh
 * buffer (an allocation, mostly page faults, at these sizes) and transferred. The
 * slot was 64 KiB while copies into and out of shared memory ran byte by byte for
 * rows at odd offsets (binary HTTP tensors; see copyToShared in
 * ../worker/channel.ts); with aligned copies a 10-row cnn batch cost this thread
 * 126-306 us (median 178) inline against 278-574 (median 430) by port, and the
 * workers no more CPU per row (interleaved, bench/README.md "Slots that hold a cnn
 * batch"). Per worker the ring is 4 slots of this size.
 */
export const INLINE_BYTES = 512 * 1024;

/** A run as it waits on the main thread: its inputs are still the batch's parts (see RunInput). */
export interface RunRequest {
  op: 'run';
  spec: SessionSpec;
  inputs: readonly RunInput[];
  outputs: string[];
  rows: number;
  largest: number;
  /** Sequence batches go by port: the worker's serve() path adds their state. */
  seq: SequenceRun | undefined;
  /** The version's run-duration estimate (read for the hot hand-off and the solo flag). */
  estimate: RunEstimate | undefined;
}

export type Request = RunRequest | LoadTask | UnloadTask | ListTask | ExitTask | StateFreeTask;

export class Job<R> {
  readonly task: Request;
  readonly resolve: (r: R) => void;
  readonly reject: (e: Error) => void;
  /** Sequence number once handed to a worker. */
  seq = 0;

  constructor(task: Request, resolve: (r: R) => void, reject: (e: Error) => void) {
    this.task = task;
    this.resolve = resolve;
    this.reject = reject;
  }
}

/** A FIFO with O(1) shift. */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  get length(): number { return this.#items.length - this.#head; }
  push(x: T): void { this.#items.push(x); }
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const x = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) { this.#items = this.#items.slice(this.#head); this.#head = 0; }
    return x;
  }
  peek(): T | undefined { return this.#items[this.#head]; }
  unshiftAll(xs: readonly T[]): void { this.#items = [...xs, ...this.#items.slice(this.#head)]; this.#head = 0; }
  drain(): T[] { const out = this.#items.slice(this.#head) as T[]; this.#items = []; this.#head = 0; return out; }
}

/** One worker thread incarnation and its channel. */
export class Channel<R> {
  readonly worker: Worker;
  readonly ctl: Int32Array;
  readonly slots: SlotView[];
  readonly port: MessagePort;
  /** Handed-over requests, in sequence order. */
  readonly inflight = new Fifo<Job<R>>();
  /** Session keys this worker holds, as far as this thread knows: only their runs go inline. */
  readonly known = new Set<string>();
  nextSeq = 1;
  lastResp = 0;
  armed = false;
  dead = false;
  /** Whether the worker keeps the process alive: only while it has requests (as piscina does). */
  referenced = true;
  error: string | undefined;

  constructor(layout: ChannelLayout, hint: SharedArrayBuffer, tuning: WorkerTuning) {
    const sab = new SharedArrayBuffer(channelBytes(layout));
    this.ctl = new Int32Array(sab, 0, CTL_BYTES / 4);
    this.slots = slotViews(sab, layout);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const workerData: ChannelWorkerData = { sab, hint, port: port2, layout, ...tuning };
    this.worker = new Worker(WORKER_FILE, { workerData, transferList: [port2] });
  }

  /**
   * Handed-over requests the worker has not answered yet. The answered ones stay in
   * `inflight` until this thread collects them (its event loop's next look), but the
   * worker is free: a batch formed meanwhile may go there, to a worker that is awake.
   */
  get unanswered(): number {
    return this.inflight.length - ((Atomics.load(this.ctl, CTL_RESP) - this.lastResp) | 0);
  }
}

export class Thread<R> {
  readonly queue = new Fifo<Job<R>>();
  ch: Channel<R> | undefined;
  /** Model instances placed on this thread (see WorkerPool.allocate). */
  instances = 0;
  /**
   * Sessions being created or released here now. That blocks the thread for as long
   * as it takes, so a batch sent here waits behind it (the executor's thread choice
   * avoids such threads while another instance thread can run the batch).
   */
  creating = 0;
}
