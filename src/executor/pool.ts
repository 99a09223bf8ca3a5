/**
 * The worker pool: `workers` ONNX Runtime worker threads, addressed by index so that a
 * model instance can be pinned to a thread. Main thread only; ONNX Runtime never runs
 * here.
 *
 * Each thread is fed through a shared-memory channel (`../worker/channel.ts`): a small
 * run is copied into a SharedArrayBuffer slot and the sleeping worker is woken with
 * `Atomics.notify`; it writes the outputs back into the slot and notifies; this thread
 * learns of it through `Atomics.waitAsync`, its event loop free meanwhile. Large
 * tensors, load, unload and list travel over a MessagePort (buffers transferred) but
 * use the same wake-ups. Compared with the previous design (one single-thread piscina
 * pool per thread: a structured-clone message each way and a message event to wake
 * this thread) this roughly halves the latency of a small request at concurrency 1
 * and doubles to triples throughput with many requests queued per thread; see
 * `bench/idle-path.ts` and bench/results/idle-path.json. Measured and not kept: a
 * worker that always spins before sleeping, and a blocking Atomics.wait on this
 * thread for the answer (both lose under concurrency when cores are shared: hence the
 * gated hot hand-off below), and more than 4 slots (no gain).
 *
 * Semantics: per-thread FIFO (the worker serves requests in submission order; up to
 * `slots` of them are handed over at once so it can start the next one without
 * waiting for this thread); errors come back as {code, message} data; a worker that
 * dies fails the request it was running (and any handed-over request whose input
 * buffers were transferred to it), is replaced, and queued requests go to the
 * replacement, which recreates sessions lazily from the SessionSpec each run carries.
 * Workers are never terminated from outside: `close()` asks them to exit between
 * requests (terminating a thread inside an ONNX Runtime run aborts the process).
 * Idle workers do not keep the process alive (as with piscina).
 *
 * Hot hand-off. On this kind of machine (a VM) waking a sleeping thread costs 20-250 us,
 * and a model run right after a wake-up is up to twice as slow (cold caches), while a
 * small model runs in ~11-40 us. So, only while the server runs at concurrency 1
 * (`beginRequest`/`endRequest` count requests into a SharedArrayBuffer every worker
 * reads; see `soloQuiet` in ../worker/channel.ts):
 * a worker that runs out of requests polls for the next one for up to `spinUs` before
 * sleeping (one worker at a time); batches prefer that awake worker's instance; and
 * when a request goes to an awake worker whose runs are short, this thread polls for
 * the answer (at most MAIN_SPIN_US) instead of returning to its event loop, whose
 * wake-up would cost as much again. At concurrency 1 this takes the hand-off from
 * ~230 us to ~50 us on a tabular model (`bench/idle-path.ts`). Under concurrency
 * nothing spins, so no CPU is taken from the front end or from other workers.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { Internal, fromErrorData } from '../errors/errors.js';
import type { OnnxModelInfo } from '../config/model-config.js';
import {
  CTL_BYTES, CTL_READY, CTL_REQ, CTL_RESP, CTL_SHUTDOWN, CTL_SLEEPING, CTL_STARTED, HINT_ACTIVE, HINT_BYTES,
  HINT_MULTI_AT, REQ_PORT, RESP_INLINE, channelBytes, hintTick, soloQuiet, inlineInputBytes, readRunResponse, seqBefore, slotViews, writeRunRequest,
  type ChannelLayout, type SlotView,
} from '../worker/channel.js';
import type { ChannelWorkerData } from '../worker/channel-worker.js';
import type {
  FailedResult, ListResult, LoadResult, RunResult, RunTask, SequenceRun, SessionSpec, StateFreeResult, UnloadResult, WorkerTask,
} from '../worker/protocol.js';
import type { WireTensor } from '../types/run.js';

const WORKER_FILE = new URL('../worker/channel-worker.js', import.meta.url);

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

export interface WorkerPoolOptions {
  /** Threads the pool may grow to as instances are allocated. Default: the initial count (fixed). */
  maxWorkers?: number;
  /** Requests handed to a worker at once (a power of two). Default 4. */
  slots?: number;
  /** Tensor bytes a request (inputs) or response (outputs) may carry inline in shared memory; larger ones go over the port, transferred. Default 64 KiB. */
  inlineBytes?: number;
  /** Hot hand-off: how long an idle worker polls for the next request at concurrency 1 (us). 0 turns the hot hand-off off. Default 500. */
  spinUs?: number;
  /**
   * --max-response-bytes: the most output bytes one request may get. Checked on the
   * worker before outputs cross to this thread (see `run`). Default: no limit.
   */
  maxResponseBytes?: number;
}

/**
 * Longest this thread polls for an answer (hot hand-off), and the runs it does it
 * for: those whose recent compute time (EWMA) is at most half of it.
 */
const MAIN_SPIN_US = 200;

/** `Atomics.waitAsync` (Node >= 16; ES2024, not in this project's ES2022 lib). */
const waitAsync = (Atomics as unknown as {
  waitAsync(ta: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

type Result = LoadResult | RunResult | UnloadResult | ListResult | StateFreeResult | FailedResult;

function unwrap<T extends { ok: true }>(r: T | FailedResult): T {
  if (!r.ok) throw fromErrorData(r.error);
  return r;
}

class Job {
  readonly task: WorkerTask;
  readonly resolve: (r: Result) => void;
  readonly reject: (e: Error) => void;
  /** Sequence number once handed to a worker. */
  seq = 0;
  /** True once its buffers were transferred to a worker: it cannot be replayed. */
  transferred = false;

  constructor(task: WorkerTask, resolve: (r: Result) => void, reject: (e: Error) => void) {
    this.task = task;
    this.resolve = resolve;
    this.reject = reject;
  }
}

/** A FIFO with O(1) shift. */
class Fifo<T> {
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
class Channel {
  readonly worker: Worker;
  readonly ctl: Int32Array;
  readonly slots: SlotView[];
  readonly port: MessagePort;
  /** Handed-over requests, in sequence order. */
  readonly inflight = new Fifo<Job>();
  /** Session keys this worker holds, as far as this thread knows: only their runs go inline. */
  readonly known = new Set<string>();
  nextSeq = 1;
  lastResp = 0;
  armed = false;
  dead = false;
  /** Whether the worker keeps the process alive: only while it has requests (as piscina does). */
  referenced = true;
  error: string | undefined;
  /** EWMA of the worker's compute time per run (us), from the timings it reports. */
  computeUs = 0;

  constructor(layout: ChannelLayout, hint: SharedArrayBuffer, spinUs: number, maxResponseBytes: number) {
    const sab = new SharedArrayBuffer(channelBytes(layout));
    this.ctl = new Int32Array(sab, 0, CTL_BYTES / 4);
    this.slots = slotViews(sab, layout);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const workerData: ChannelWorkerData = { sab, hint, port: port2, layout, spinUs, maxResponseBytes };
    this.worker = new Worker(WORKER_FILE, { workerData, transferList: [port2] });
  }
}

class Thread {
  readonly queue = new Fifo<Job>();
  ch: Channel | undefined;
  /** Model instances placed on this thread (see WorkerPool.allocate). */
  instances = 0;
}

export class WorkerPool {
  /** Most threads this pool will ever have (sizes per-thread tables elsewhere). */
  readonly capacity: number;
  readonly #threads: Thread[] = [];
  readonly #layout: ChannelLayout;
  readonly #hintSab = new SharedArrayBuffer(HINT_BYTES);
  readonly #hint = new Int32Array(this.#hintSab);
  readonly #spinUs: number;
  /**
   * Per thread: sessions being created or released there now. That blocks the thread
   * for as long as it takes, so a batch sent there waits behind it; `runOn` avoids
   * such threads while another of the instance's threads can run the batch.
   */
  readonly #creating: Int32Array;
  readonly #maxResponseBytes: number;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(workers: number, options: WorkerPoolOptions = {}) {
    const slots = options.slots ?? 4;
    if (!(slots >= 1 && (slots & (slots - 1)) === 0)) throw new RangeError('slots must be a power of two');
    this.capacity = Math.max(workers, options.maxWorkers ?? workers);
    this.#layout = { slots, slotDataBytes: Math.max(64, Math.ceil((options.inlineBytes ?? 65536) / 8) * 8) };
    this.#spinUs = Math.max(0, options.spinUs ?? 500);
    this.#creating = new Int32Array(this.capacity);
    this.#maxResponseBytes = options.maxResponseBytes ?? Infinity;
    Atomics.store(this.#hint, HINT_MULTI_AT, hintTick() - 1000);
    for (let i = 0; i < workers; i++) {
      const t = new Thread();
      this.#threads.push(t);
      this.#spawn(i);
    }
  }

  /** Threads started so far. */
  get size(): number {
    return this.#threads.length;
  }

  /**
   * Place `count` instances of a model version: each on a thread with no instance yet
   * (starting one while under capacity), else on the threads with fewest instances.
   * Returns distinct threads; fewer than `count` only when the pool is full.
   */
  allocate(count: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      let best = -1;
      for (let t = 0; t < this.#threads.length; t++) {
        if (out.includes(t)) continue;
        if (best === -1 || this.#threads[t]!.instances < this.#threads[best]!.instances) best = t;
      }
      if ((best === -1 || this.#threads[best]!.instances > 0) && this.#threads.length < this.capacity) {
        best = this.#threads.length;
        this.#threads.push(new Thread());
        this.#spawn(best);
      }
      if (best === -1) break;
      this.#threads[best]!.instances++;
      out.push(best);
    }
    return out;
  }

  /** The instances placed by `allocate` are gone (their version unloaded). */
  release(threads: readonly number[]): void {
    for (const t of threads) {
      const th = this.#threads[t];
      if (th !== undefined && th.instances > 0) th.instances--;
    }
  }

  /** A request entered the server (the hot hand-off only runs while it holds at most one). */
  beginRequest(): void {
    if (Atomics.add(this.#hint, HINT_ACTIVE, 1) >= 1) Atomics.store(this.#hint, HINT_MULTI_AT, hintTick());
  }

  /** A request counted by `beginRequest` was answered or failed. */
  endRequest(): void {
    Atomics.sub(this.#hint, HINT_ACTIVE, 1);
  }

  /** Requests counted in and not yet out (tests check that every path counts out). */
  get activeRequests(): number {
    return Atomics.load(this.#hint, HINT_ACTIVE);
  }

  /** True when the thread's worker is idle but awake (polling): a run sent there starts at once. */
  awake(thread: number): boolean {
    const ch = this.#threads[thread]?.ch;
    return ch !== undefined && ch.inflight.length === 0 && Atomics.load(ch.ctl, CTL_SLEEPING) === 0 && Atomics.load(ch.ctl, CTL_READY) !== 0;
  }

  /** Current load of one thread (requests queued or handed to the worker). */
  load(thread: number): number {
    const t = this.#threads[thread]!;
    return t.queue.length + (t.ch?.inflight.length ?? 0);
  }

  /** Create the session on the given threads; returns the model's signature. */
  async loadOn(threads: readonly number[], spec: SessionSpec): Promise<OnnxModelInfo> {
    const results = await this.#creatingOn(threads, () => Promise.all(threads.map((t) => this.#call(t, { op: 'load', spec }))));
    let info: OnnxModelInfo | undefined;
    for (const r of results) info = unwrap(r as LoadResult | FailedResult).info;
    return info!;
  }

  async unloadOn(threads: readonly number[], key: string): Promise<void> {
    await this.#creatingOn(threads, () => Promise.all(threads.map((t) => this.#call(t, { op: 'unload', key }))));
  }

  async #creatingOn<T>(threads: readonly number[], work: () => Promise<T>): Promise<T> {
    for (const t of threads) this.#creating[t]!++;
    try {
      return await work();
    } finally {
      for (const t of threads) this.#creating[t]!--;
    }
  }

  /**
   * Run one batch on whichever of a model's instance threads should take it: the
   * least work queued, avoiding threads creating or releasing a session, and among
   * idle ones a worker that is awake (the hot hand-off). Buffers as in `run`.
   */
  runOn(threads: readonly number[], spec: SessionSpec, inputs: WireTensor[], outputs: string[], rows = 1, largest = 1): Promise<RunResult> {
    let best = -1;
    let bestCost = Infinity;
    for (const t of threads) {
      // A session being created counts as more work than any queue of batches.
      const cost = this.load(t) + (this.#creating[t]! > 0 ? 1e6 : 0) + (this.awake(t) ? 0 : 0.5);
      if (cost < bestCost) { best = t; bestCost = cost; }
    }
    return this.run(best, spec, inputs, outputs, rows, largest);
  }

  /**
   * Run one batch on a thread. The input buffers are handed over: unusable by the
   * caller after this call (they are transferred when they travel by port). The output
   * buffers belong to the caller. `rows` is the batch's row count and `largest` the
   * rows of its largest request: the worker fails the run when that request's share
   * of the outputs would pass --max-response-bytes.
   */
  async run(thread: number, spec: SessionSpec, inputs: WireTensor[], outputs: string[], rows = 1, largest = 1, seq?: SequenceRun): Promise<RunResult> {
    const task: RunTask = seq === undefined
      ? { op: 'run', spec, inputs, outputs, rows, largest }
      : { op: 'run', spec, inputs, outputs, rows, largest, seq };
    const r = await this.#call(thread, task);
    return unwrap(r as RunResult | FailedResult);
  }

  /** Drop the sequence state a thread keeps for some slots of a session (their sequences were released). */
  async freeState(thread: number, key: string, slots: string[]): Promise<number> {
    const r = await this.#call(thread, { op: 'state-free', key, slots });
    return unwrap(r as StateFreeResult | FailedResult).freed;
  }

  /** Session keys held by each thread (tests and the admin surface read it). */
  async sessions(): Promise<string[][]> {
    return (await this.#list()).map((r) => r.keys);
  }

  /** Keys of the solo sessions (SessionSettings.soloIntraOpThreads) held by each thread. */
  async soloSessions(): Promise<string[][]> {
    return (await this.#list()).map((r) => r.soloKeys);
  }

  async #list(): Promise<ListResult[]> {
    const all = await Promise.all(this.#threads.map((_, t) => this.#call(t, { op: 'list' })));
    return all.map((r) => unwrap(r as ListResult | FailedResult));
  }

  /**
   * Test-only: make a worker die as a crash would, by queueing a request that calls
   * `process.exit(1)` in the worker (served in FIFO order, so it is the request the
   * worker is running when it dies). Resolves, once the worker is gone and replaced,
   * with the error that request failed with.
   */
  async crashForTest(thread: number): Promise<unknown> {
    const ch = this.#channel(thread);
    const gone = new Promise<void>((res) => ch.worker.once('exit', () => res()));
    const failed = this.#call(thread, { op: 'exit', code: 1 }).then(() => undefined, (e: unknown) => e);
    await gone;
    return failed;
  }

  /**
   * Reject everything queued or running, and stop the workers. A worker that is inside
   * a run finishes that run first: terminating a thread inside ONNX Runtime aborts the
   * process, so workers are asked to exit between requests instead.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    const err = new Internal('worker pool is closed');
    const exits: Promise<void>[] = [];
    for (const t of this.#threads) {
      for (const job of t.queue.drain()) job.reject(err);
      const ch = t.ch;
      if (ch === undefined) continue;
      const exited = new Promise<void>((res) => ch.worker.once('exit', () => res()));
      ch.worker.ref(); // keep the process alive until it has exited
      ch.dead = true;
      for (const job of ch.inflight.drain()) job.reject(err);
      // Stop flag first, then a change of REQ (a sequence number the worker never
      // serves: it checks the flag first), so a worker about to sleep cannot miss it.
      Atomics.store(ch.ctl, CTL_SHUTDOWN, 1);
      Atomics.store(ch.ctl, CTL_REQ, ch.nextSeq);
      Atomics.notify(ch.ctl, CTL_REQ);
      Atomics.notify(ch.ctl, CTL_RESP);
      ch.port.close();
      exits.push(exited);
    }
    await Promise.all(exits);
  }

  // --- internals ---------------------------------------------------------------------

  #spawn(index: number): Channel {
    const ch = new Channel(this.#layout, this.#hintSab, this.#spinUs, this.#maxResponseBytes);
    this.#threads[index]!.ch = ch;
    ch.worker.on('error', (e) => { ch.error ??= e instanceof Error ? e.message : String(e); });
    ch.worker.on('exit', (code) => this.#onExit(index, ch, code));
    if (this.#threads[index]!.queue.length === 0) { ch.referenced = false; ch.worker.unref(); }
    return ch;
  }

  #channel(thread: number): Channel {
    const t = this.#threads[thread];
    if (t === undefined) throw new RangeError(`no worker thread ${thread}`);
    return t.ch ?? this.#spawn(thread);
  }

  #call(thread: number, task: WorkerTask): Promise<Result> {
    if (this.#closed) return Promise.reject(new Internal('worker pool is closed'));
    const ch = this.#channel(thread);
    return new Promise<Result>((resolve, reject) => {
      this.#threads[thread]!.queue.push(new Job(task, resolve, reject));
      if (ch.armed) this.#pump(thread, ch);
      else this.#drain(thread, ch);
    });
  }

  /**
   * Hand queued requests to the worker while it has free slots; wake it if asleep.
   * Returns true when it handed over a run to an awake worker with nothing else in
   * flight (the case the hot hand-off polls for).
   */
  #pump(thread: number, ch: Channel): boolean {
    const t = this.#threads[thread]!;
    const layout = this.#layout;
    let published = false;
    while (t.queue.length > 0 && ch.inflight.length < layout.slots) {
      const job = t.queue.shift()!;
      const seq = ch.nextSeq;
      const v = ch.slots[seq & (layout.slots - 1)]!;
      const task = job.task;
      let inline = false;
      if (task.op === 'run') {
        // Sequence runs go by port: the worker's serve() path adds their state.
        inline = task.seq === undefined && ch.known.has(task.spec.key)
          && inlineInputBytes(task.inputs) <= layout.slotDataBytes
          && writeRunRequest(v, task.spec.key, task.inputs, task.outputs, task.rows ?? 1, task.largest ?? 1);
      } else if (task.op === 'unload') {
        // Runs after this one recreate the session lazily, so they must carry the spec.
        ch.known.delete(task.key);
      }
      if (!inline) {
        const transfer = task.op === 'run' ? [...new Set(task.inputs.map((i) => i.buffer))] : [];
        try {
          ch.port.postMessage(task, transfer);
        } catch (err) {
          job.reject(new Internal(`cannot send the request to worker thread ${thread}: ${err instanceof Error ? err.message : String(err)}`));
          continue;
        }
        job.transferred = transfer.length > 0;
        v.i32[0] = REQ_PORT;
      }
      job.seq = seq;
      ch.inflight.push(job);
      ch.nextSeq = (seq + 1) | 0;
      Atomics.store(ch.ctl, CTL_REQ, seq);
      published = true;
    }
    if (!published) return false;
    const asleep = Atomics.load(ch.ctl, CTL_SLEEPING) !== 0;
    if (asleep) Atomics.notify(ch.ctl, CTL_REQ, 1);
    if (!ch.referenced) { ch.referenced = true; ch.worker.ref(); }
    return !asleep && ch.inflight.length === 1;
  }

  /** Settle the requests the worker has answered. */
  #collect(ch: Channel): void {
    const resp = Atomics.load(ch.ctl, CTL_RESP);
    const mask = this.#layout.slots - 1;
    while (ch.lastResp !== resp) {
      const seq = (ch.lastResp + 1) | 0;
      ch.lastResp = seq;
      const job = ch.inflight.shift();
      if (job === undefined) break;
      const v = ch.slots[seq & mask]!;
      const task = job.task;
      let result: Result;
      if (v.i32[0] === RESP_INLINE && task.op === 'run') {
        const { outputs, timing } = readRunResponse(v, task.outputs);
        result = { ok: true, outputs, timing };
      } else {
        const m = receiveMessageOnPort(ch.port);
        result = m === undefined
          ? { ok: false, error: { code: 'INTERNAL', message: 'worker response lost' } }
          : m.message as Result;
      }
      if (result.ok && (task.op === 'run' || task.op === 'load')) ch.known.add(task.spec.key);
      if (result.ok && task.op === 'run') {
        const t = (result as RunResult).timing;
        const us = (t.inputNs + t.inferNs + t.outputNs) / 1000;
        ch.computeUs = ch.computeUs === 0 ? us : ch.computeUs * 0.8 + us * 0.2;
      }
      job.resolve(result);
    }
  }

  /** Collect answers, refill the worker, and wait (asynchronously) for the next answer. */
  #drain(thread: number, ch: Channel): void {
    for (;;) {
      if (ch.dead) return;
      this.#collect(ch);
      const hot = this.#pump(thread, ch);
      if (ch.inflight.length === 0) {
        if (ch.referenced) { ch.referenced = false; ch.worker.unref(); }
        return;
      }
      if (hot && this.#awaitHot(ch)) continue;
      const w = waitAsync(ch.ctl, CTL_RESP, ch.lastResp);
      if (w.async) {
        ch.armed = true;
        void w.value.then(() => {
          ch.armed = false;
          this.#drain(thread, ch);
        });
        return;
      }
      // Answered meanwhile: collect again.
    }
  }

  /**
   * Hot hand-off, this thread's half: poll for the answer to a run just handed to an
   * awake worker, when the server holds no other request and the worker's runs are
   * short. True when the answer came within MAIN_SPIN_US.
   */
  #awaitHot(ch: Channel): boolean {
    if (this.#spinUs === 0 || ch.computeUs * 2 > MAIN_SPIN_US || !soloQuiet(this.#hint)) return false;
    const until = performance.now() + MAIN_SPIN_US / 1000;
    while (Atomics.load(ch.ctl, CTL_RESP) === ch.lastResp) {
      if (performance.now() > until) return false;
    }
    return true;
  }

  #onExit(thread: number, ch: Channel, code: number): void {
    if (ch.dead) return;
    ch.dead = true;
    const t = this.#threads[thread]!;
    // Answers the worker published before dying are good.
    this.#collect(ch);
    const started = Atomics.load(ch.ctl, CTL_STARTED);
    const ready = Atomics.load(ch.ctl, CTL_READY) !== 0;
    const why = `worker thread ${thread} exited unexpectedly` + (ch.error !== undefined ? `: ${ch.error}` : ` with code ${code}`);
    const replay: Job[] = [];
    for (const job of ch.inflight.drain()) {
      if (!seqBefore(started, job.seq) || job.transferred) job.reject(new Internal(why));
      else replay.push(job);
    }
    Atomics.notify(ch.ctl, CTL_RESP);
    ch.port.close();
    if (t.ch === ch) t.ch = undefined;
    if (!ready) {
      // It died before serving anything: fail what waits instead of respawning in a loop;
      // the next request starts a fresh worker.
      for (const job of [...replay, ...t.queue.drain()]) job.reject(new Internal(why));
      return;
    }
    t.queue.unshiftAll(replay);
    const next = this.#spawn(thread);
    if (t.queue.length > 0) this.#drain(thread, next);
  }
}
