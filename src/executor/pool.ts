/**
 * The worker pool: `workers` ONNX Runtime worker threads, addressed by index so that a
 * model instance can be pinned to a thread. Main thread only; ONNX Runtime never runs
 * here. Only `./executor.ts` (which decides which thread runs what) and tests use it.
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
 * gated hot hand-off, ./handoff.ts), more than 4 slots (no gain), and workers that nap
 * in short timed waits under concurrency so that this thread need not notify them
 * (a notify of a sleeping worker costs this thread 18-40 us on this VM; napping, even
 * with the hot hand-off's rest, was no faster on a quiet machine and lost at
 * concurrency 4; bench/README.md "Waking a worker").
 *
 * Semantics: per-thread FIFO (the worker serves requests in submission order; up to
 * `slots` of them are handed over at once so it can start the next one without
 * waiting for this thread); errors come back as {code, message} data; a worker that
 * dies fails the request it was running, is replaced, and the requests handed to it
 * but not started, and those queued, go to the replacement (a run keeps its inputs'
 * parts until answered, so it can be sent again), which recreates sessions lazily
 * from the SessionSpec each run carries.
 * Workers are never terminated from outside: `close()` asks them to exit between
 * requests (terminating a thread inside an ONNX Runtime run aborts the process).
 * Idle workers do not keep the process alive (as with piscina).
 *
 * When this thread wakes a worker, and when it polls for an answer instead of waiting
 * for it, is `./handoff.ts`'s (the hot hand-off).
 */
import { receiveMessageOnPort } from 'node:worker_threads';
import { Internal, fromErrorData } from '../errors/errors.js';
import type { OnnxModelInfo } from '../config/model-config.js';
import {
  CTL_READY, CTL_REQ, CTL_RESP, CTL_SHUTDOWN, CTL_SLEEPING, CTL_STARTED, REQ_PORT, RESP_INLINE, inlineInputBytes, readRunResponse, seqBefore, writeRunRequest, type ChannelLayout,
} from '../worker/channel.js';
import { HINT_ACTIVE, HINT_BYTES, HINT_MULTI_AT, HINT_CONTENDED_AT, hintTick, soloQuiet } from '../worker/hint.js';
import {
  transferList, type FailedResult, type ListResult, type LoadResult, type RunResult, type RunTask, type StateFreeResult, type UnloadResult, type WorkerTask,
} from '../worker/protocol.js';
import { joinRunInput, type RunInput, type SessionSpec } from '../types/run.js';
import { workerTuning, type RunOptions, type WorkerPoolOptions } from './pool-options.js';
import { Arrivals, awaitAnswer, pollsForAnswer } from './handoff.js';
import { Channel, INLINE_BYTES, Job, Thread, type Request } from './thread.js';
import type { WorkerTuning } from '../worker/channel-worker.js';

export type { RunOptions, WorkerPoolOptions } from './pool-options.js';

/** `Atomics.waitAsync` (Node >= 16; ES2024, not in this project's ES2022 lib). */
const waitAsync = (Atomics as unknown as {
  waitAsync(ta: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

type Result = LoadResult | RunResult | UnloadResult | ListResult | StateFreeResult | FailedResult;

function unwrap<T extends { ok: true }>(r: T | FailedResult): T {
  if (!r.ok) throw fromErrorData(r.error);
  return r;
}

/** The port form of a run: the parts joined into one fresh buffer per input, transferred. */
function portTask(r: Request): { task: WorkerTask; transfer: ArrayBuffer[] } {
  if (r.op !== 'run') return { task: r, transfer: [] };
  const inputs = r.inputs.map(joinRunInput);
  const task: RunTask = { op: 'run', spec: r.spec, inputs, outputs: r.outputs, rows: r.rows, largest: r.largest, solo: r.estimate?.soloWorthy ?? false };
  if (r.seq !== undefined) task.seq = r.seq;
  return { task, transfer: transferList(inputs) };
}

export class WorkerPool {
  /** Most threads this pool will ever have. */
  readonly capacity: number;
  readonly #threads: Thread<Result>[] = [];
  readonly #layout: ChannelLayout;
  readonly #hintSab = new SharedArrayBuffer(HINT_BYTES);
  readonly #hint = new Int32Array(this.#hintSab);
  readonly #arrivals = new Arrivals(this.#hint);
  /** What each worker is started with; the main thread's half of the hot hand-off reads spinUs and spinRest here too. */
  readonly #tuning: WorkerTuning;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(workers: number, options: WorkerPoolOptions = {}) {
    const slots = options.slots ?? 4;
    if (!(slots >= 1 && (slots & (slots - 1)) === 0)) throw new RangeError('slots must be a power of two');
    this.capacity = Math.max(workers, options.maxWorkers ?? workers);
    this.#layout = { slots, slotDataBytes: Math.max(64, Math.ceil((options.inlineBytes ?? INLINE_BYTES) / 8) * 8) };
    this.#tuning = workerTuning(options);
    Atomics.store(this.#hint, HINT_MULTI_AT, hintTick() - 1000);
    Atomics.store(this.#hint, HINT_CONTENDED_AT, hintTick() - 1000);
    for (let i = 0; i < workers; i++) {
      this.#threads.push(new Thread());
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

  /** Model instances placed on a thread now. */
  instancesOn(thread: number): number {
    return this.#threads[thread]?.instances ?? 0;
  }

  /** A request entered the server (the hot hand-off only runs while it holds at most one). */
  beginRequest(): void {
    this.#arrivals.in();
  }

  /** A request counted by `beginRequest` was answered or failed. */
  endRequest(): void {
    this.#arrivals.out();
  }

  /** Requests counted in and not yet out (tests check that every path counts out). */
  get activeRequests(): number {
    return Atomics.load(this.#hint, HINT_ACTIVE);
  }

  /** The server runs at concurrency 1: at most one request in it, and none beside another for ~50 ms (`soloQuiet`). */
  get quiet(): boolean {
    return soloQuiet(this.#hint);
  }

  /** True when the thread's worker is idle but awake (polling): a run sent there starts at once. */
  awake(thread: number): boolean {
    const ch = this.#threads[thread]?.ch;
    return ch !== undefined && ch.unanswered === 0 && Atomics.load(ch.ctl, CTL_SLEEPING) === 0 && Atomics.load(ch.ctl, CTL_READY) !== 0;
  }

  /** Current load of one thread (requests queued, or handed to the worker and not answered yet). */
  load(thread: number): number {
    const t = this.#threads[thread]!;
    return t.queue.length + (t.ch?.unanswered ?? 0);
  }

  /** True while a session is being created or released on the thread. */
  creating(thread: number): boolean {
    return this.#threads[thread]!.creating > 0;
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
    for (const t of threads) this.#threads[t]!.creating++;
    try {
      return await work();
    } finally {
      for (const t of threads) this.#threads[t]!.creating--;
    }
  }

  /**
   * Run one batch on a thread. The inputs' parts must stay valid until the run is
   * answered (they are copied into the shared slot when the worker takes the run, or
   * joined into a fresh buffer that travels by port); the output buffers belong to the
   * caller. The worker fails the run when the largest request's share of the outputs
   * would pass --max-response-bytes.
   */
  async run(thread: number, spec: SessionSpec, inputs: readonly RunInput[], outputs: string[], o: RunOptions = {}): Promise<RunResult> {
    const r = await this.#call(thread, {
      op: 'run', spec, inputs, outputs, rows: o.rows ?? 1, largest: o.largest ?? 1, seq: o.seq, estimate: o.estimate,
    });
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

  #spawn(index: number): Channel<Result> {
    const ch = new Channel<Result>(this.#layout, this.#hintSab, this.#tuning);
    this.#threads[index]!.ch = ch;
    ch.worker.on('error', (e) => { ch.error ??= e instanceof Error ? e.message : String(e); });
    ch.worker.on('exit', (code) => this.#onExit(index, ch, code));
    if (this.#threads[index]!.queue.length === 0) { ch.referenced = false; ch.worker.unref(); }
    return ch;
  }

  #channel(thread: number): Channel<Result> {
    const t = this.#threads[thread];
    if (t === undefined) throw new RangeError(`no worker thread ${thread}`);
    return t.ch ?? this.#spawn(thread);
  }

  #call(thread: number, task: Request): Promise<Result> {
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
  #pump(thread: number, ch: Channel<Result>): boolean {
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
          && writeRunRequest(v, task.spec.key, task.inputs, task.outputs, task.rows, task.largest, task.estimate?.soloWorthy ?? false);
      } else if (task.op === 'unload') {
        // Runs after this one recreate the session lazily, so they must carry the spec.
        ch.known.delete(task.key);
      }
      if (!inline) {
        try {
          const { task: msg, transfer } = portTask(task);
          ch.port.postMessage(msg, transfer);
        } catch (err) {
          job.reject(new Internal(`cannot send the request to worker thread ${thread}: ${err instanceof Error ? err.message : String(err)}`));
          continue;
        }
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
  #collect(ch: Channel<Result>): void {
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
      job.resolve(result);
    }
  }

  /**
   * Collect answers, refill the worker, and wait (asynchronously) for the next answer.
   * When the run just handed over is one the hot hand-off polls for, the poll waits
   * for the event loop's check phase (setImmediate), after the rest of this turn's
   * I/O: a burst read in one turn then counts as concurrency (no poll, its requests
   * batched); polled for at once, each of its requests was answered before the next
   * socket was read, so the server never saw two at a time and ran a burst of 64 as
   * 64 polled batches of 1.
   */
  #drain(thread: number, ch: Channel<Result>, hotOk = true): void {
    for (;;) {
      if (ch.dead) return;
      this.#collect(ch);
      const hot = this.#pump(thread, ch);
      if (ch.inflight.length === 0) {
        if (ch.referenced) { ch.referenced = false; ch.worker.unref(); }
        return;
      }
      if (hot && hotOk && this.#pollsFor(ch)) {
        ch.armed = true;
        setImmediate(this.#pollThenDrain, thread, ch);
        return;
      }
      hotOk = true;
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

  #pollsFor(ch: Channel<Result>): boolean {
    return this.#tuning.spinUs > 0 && pollsForAnswer(this.#hint, ch.inflight.peek()?.task);
  }

  /** The check-phase half of `#drain`'s hot hand-off (made once: no closure per request). */
  readonly #pollThenDrain = (thread: number, ch: Channel<Result>): void => {
    ch.armed = false;
    this.#drain(thread, ch, this.#pollsFor(ch) && awaitAnswer(this.#hint, ch.ctl, ch.lastResp, this.#tuning.spinRest));
  };

  #onExit(thread: number, ch: Channel<Result>, code: number): void {
    if (ch.dead) return;
    ch.dead = true;
    const t = this.#threads[thread]!;
    // Answers the worker published before dying are good.
    this.#collect(ch);
    const started = Atomics.load(ch.ctl, CTL_STARTED);
    const ready = Atomics.load(ch.ctl, CTL_READY) !== 0;
    const why = `worker thread ${thread} exited unexpectedly` + (ch.error !== undefined ? `: ${ch.error}` : ` with code ${code}`);
    const replay: Job<Result>[] = [];
    for (const job of ch.inflight.drain()) {
      if (!seqBefore(started, job.seq)) job.reject(new Internal(why));
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
