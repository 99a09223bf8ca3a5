/**
 * Per-model-version request queue and dynamic batcher with Triton's semantics
 * (PROTOCOL.md "Dynamic batcher semantics", Triton's dynamic_batch_scheduler.cc and
 * priority_queue.cc), plus client deadlines and cancellation.
 *
 * It knows nothing about tensors: a request is a `BatchItem` (its batch size, a key that
 * says which requests may share a batch, priority, timeout, deadline, abort signal and
 * how to answer it). It decides which requests run together and when, and never has
 * more batches in flight than there are model instances (times 1 + `ahead`, see
 * BatcherOptions.ahead); `run` does the work. The
 * queues it draws from (priority levels, admission, timeouts, deadlines, cancel) are
 * `BatchQueues` in ./queues.ts.
 *
 * Everything happens on the caller's thread from `enqueue`, from batch completion and
 * from one shared timer (the injected setTimer; ModelVersion's runs waits of 1 ms or
 * less on setImmediate, re-armed until the deadline passes, so a sub-millisecond
 * max_queue_delay polls the event loop while a batch is held open).
 */
import { DeadlineExceeded, Internal } from '../errors/errors.js';
import { Deque } from './deque.js';
import type { BatchItem, BatcherOptions, DispatchHook, RunBatch } from './item.js';
import { BatchQueues, DELAYED, QUEUED, type Entry } from './queues.js';

export type { BatchItem, BatcherOptions, BatcherStats, DispatchHook, RunBatch } from './item.js';

/**
 * setTimeout resolves to whole ms and fires late, so a batch held for its delay stops
 * being held this long before its earliest deadline stops being feasible; otherwise
 * the timer that should send it would land just after the deadline and reject it.
 */
const DEADLINE_SLACK_MS = 1;

/** A dispatched batch waiting for its turn to answer (preserve_ordering only). */
interface Ordered<T, R> {
  batch: T[];
  done: boolean;
  results: (R | Error)[] | undefined;
  error: Error | undefined;
}

export class Batcher<T extends BatchItem<R>, R> extends BatchQueues<T, R> {
  private readonly run: RunBatch<T, R>;
  private readonly now: () => number;
  private readonly expectedRunMs: (() => number) | undefined;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly onDispatch: DispatchHook<T> | undefined;
  private readonly quiet: (() => boolean) | undefined;

  // Batching rules, fixed at construction.
  /** Each request runs alone: max_batch_size 0 or no dynamic_batching. */
  private readonly single: boolean;
  private readonly maxBatch: number;
  private readonly preferred: number[];
  private readonly maxPreferred: number;
  private readonly delayMs: number;
  private readonly preserveOrdering: boolean;
  /** Batches that may be in flight: instances x (1 + ahead). */
  private maxInFlight: number;
  private readonly ahead: number;
  private running = 0;
  private readonly ordered = new Deque<Ordered<T, R>>();

  /** See BatcherOptions.coalesce (unset for models that do not batch, and for bounded queues). */
  private readonly coalesce: ((flush: () => void) => void) | undefined;
  private readonly onFlush: () => void;
  private flushPending = false;
  private timer: unknown = undefined;
  private timerAt = Infinity;
  private readonly onTimer: () => void;
  /** When the batch being formed must go (delay or deadline); Infinity when not waiting. */
  private holdUntil = Infinity;

  private scheduling = false;
  private again = false;
  /** drain() in progress: send what is queued without waiting for the delay. */
  private flushing = false;
  private closedWith: Error | undefined;
  private readonly drainWaiters: (() => void)[] = [];

  // Scratch arrays reused by every scheduling pass.
  private readonly pick: (Entry<T> | undefined)[] = [];
  private readonly doomed: Entry<T>[] = [];
  private readonly queueNs: number[] = [];

  constructor(opts: BatcherOptions<T>, run: RunBatch<T, R>) {
    super(opts);
    this.run = run;
    this.now = opts.now ?? performance.now.bind(performance);
    this.expectedRunMs = opts.expectedRunMs;
    this.setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = opts.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
    this.onDispatch = opts.onDispatch;
    this.quiet = opts.quiet;
    this.ahead = Math.max(0, Math.floor(opts.ahead ?? 0));
    this.maxInFlight = opts.instances * (1 + this.ahead);
    this.onFlush = () => {
      this.flushPending = false;
      this.schedule();
    };
    this.onTimer = () => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.schedule();
    };

    const dyn = opts.dynamic;
    const maxBatch = Number(opts.maxBatchSize) || 0;
    this.single = dyn === undefined || maxBatch <= 0;
    this.maxBatch = Math.max(1, maxBatch);
    // Preferred sizes above max_batch_size can never be formed; none left means
    // "prefer max_batch_size", as Triton does.
    const preferred = (dyn?.preferred_batch_size ?? [])
      .map(Number).filter((n) => n >= 1 && n <= this.maxBatch);
    this.preferred = preferred.length > 0 ? preferred : [this.maxBatch];
    this.maxPreferred = Math.max(...this.preferred);
    this.delayMs = dyn === undefined ? 0 : Number(dyn.max_queue_delay_microseconds ?? 0) / 1000;
    this.preserveOrdering = dyn?.preserve_ordering === true;
    // A bounded queue counts a request from the moment it arrives: holding the first
    // one for the flush would take a place a request sent at once never took, and
    // refuse one request more than max_queue_size says.
    this.coalesce = this.single || this.bounded ? undefined : opts.coalesce;
  }

  /** Batches running now. */
  get inFlight(): number { return this.running; }

  /** Change how many batches may run at once (instance count changed). */
  setInstances(n: number): void {
    this.maxInFlight = Math.max(0, n) * (1 + this.ahead);
    this.schedule();
  }

  /**
   * Queue a request. Never throws: a request refused here (closed, cancelled, invalid
   * priority, deadline already unreachable, queue full) is answered through
   * `item.reject` before this returns.
   */
  enqueue(item: T): void {
    if (this.closedWith !== undefined) return this.refuse(item, this.closedWith);
    const runMs = this.expectedRunMs === undefined ? 0 : this.expectedRunMs();
    if (!this.admit(item, this.now(), runMs)) return;
    if (this.coalesce === undefined || this.running >= this.maxInFlight) {
      this.schedule();
    } else if (!this.flushPending) {
      this.flushPending = true;
      this.coalesce(this.onFlush);
    }
  }

  /** Resolves once nothing is queued or running; what is queued is sent without waiting for the delay. */
  drain(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    this.flushing = true;
    const p = new Promise<void>((resolve) => { this.drainWaiters.push(resolve); });
    this.schedule();
    return p;
  }

  /**
   * Reject everything queued with `err` and refuse new requests with it (shutdown,
   * unload). Batches already running finish and are answered normally.
   */
  close(err: Error): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = err;
    const gone: Entry<T>[] = [];
    for (let l = 0; l < this.mainQ.length; l++) {
      // Walk order (main, then delayed) so the rejections go out oldest first.
      this.collect(this.mainQ[l]!, QUEUED, gone);
      this.collect(this.delayedQ[l]!, DELAYED, gone);
      this.mainQ[l]!.clear();
      this.delayedQ[l]!.clear();
    }
    this.disarm();
    for (const e of gone) this.refuse(e.item, err);
    this.checkIdle();
  }

  private deliver(batch: T[], results: (R | Error)[] | undefined, error: Error | undefined): void {
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i]!;
      const r = error ?? results![i];
      try {
        if (r instanceof Error) item.reject(r);
        else item.resolve(r as R);
      } catch (e) {
        this.onCallbackError(e);
      }
    }
  }

  private idle(): boolean {
    return this.count === 0 && this.running === 0 && this.ordered.length === 0;
  }

  private checkIdle(): void {
    if (this.drainWaiters.length === 0 || !this.idle()) return;
    this.flushing = false;
    const waiters = this.drainWaiters.splice(0);
    for (const w of waiters) w();
  }

  /**
   * The one place that applies timeouts and dispatches. Re-entrant calls (a reject or
   * `run` callback that enqueues or aborts) only ask for another pass.
   */
  protected schedule(): void {
    if (this.scheduling) {
      this.again = true;
      return;
    }
    this.scheduling = true;
    try {
      do {
        this.again = false;
        const now = this.now();
        const runMs = this.expectedRunMs === undefined ? 0 : this.expectedRunMs();
        if (this.expiries.size > 0) this.expire(now, runMs);
        this.holdUntil = Infinity;
        while (this.running < this.maxInFlight && this.count > 0) {
          const n = this.single ? this.formSingle(now, runMs) : this.form(now, runMs);
          if (n > 0) this.dispatch(n, now);
          if (this.doomed.length > 0) this.rejectDoomed();
          if (n === 0) break;
        }
        // One timer for the whole queue: the next expiry, or the end of the hold on the
        // batch being formed (only matters while an instance is free to take it).
        let next = this.expiries.peekKey();
        if (this.running < this.maxInFlight && this.holdUntil < next) next = this.holdUntil;
        this.arm(next, now);
      } while (this.again);
    } finally {
      this.scheduling = false;
    }
    this.checkIdle();
  }

  /** First runnable request, alone (no batching). */
  private formSingle(now: number, runMs: number): number {
    for (let l = 0; l < this.mainQ.length; l++) {
      if (this.levelCount[l] === 0) continue;
      for (let pass = 0; pass < 2; pass++) {
        const q = pass === 0 ? this.mainQ[l]! : this.delayedQ[l]!;
        const want = pass === 0 ? QUEUED : DELAYED;
        for (let i = 0; i < q.length; i++) {
          const e = q.at(i);
          if (e.state !== want) continue;
          if (now + runMs >= e.item.deadline) {
            this.drop(e);
            this.doomed.push(e);
            continue;
          }
          this.pick[0] = e;
          return 1;
        }
      }
    }
    return 0;
  }

  /**
   * Gather the next batch in queue order (level 1 first; within a level FIFO, then the
   * DELAYed requests) into `pick`, following Triton's GetDynamicBatch: returns how many
   * to send now, or 0 to keep waiting (setting `holdUntil`).
   */
  private form(now: number, runMs: number): number {
    const maxBatch = this.maxBatch;
    const maxPreferred = this.maxPreferred;
    const preferred = this.preferred;
    const pick = this.pick;
    let count = 0;
    let size = 0;
    /** Requests in the largest preferred-size prefix found (0 = none). */
    let best = 0;
    /** The batch cannot grow: full, or the next request does not fit or has another shape. */
    let closed = false;
    let oldest = Infinity;
    let deadlineHold = Infinity;
    let shapeKey = '';

    gather:
    for (let l = 0; l < this.mainQ.length; l++) {
      if (this.levelCount[l] === 0) continue;
      for (let pass = 0; pass < 2; pass++) {
        const q = pass === 0 ? this.mainQ[l]! : this.delayedQ[l]!;
        const want = pass === 0 ? QUEUED : DELAYED;
        for (let i = 0; i < q.length; i++) {
          const e = q.at(i);
          if (e.state !== want) continue;
          const item = e.item;
          const deadline = item.deadline;
          if (now + runMs >= deadline) {
            // The run-time estimate grew and this one can no longer make it.
            this.drop(e);
            this.doomed.push(e);
            continue;
          }
          const bs = item.batchSize > 1 ? item.batchSize : 1;
          if (count > 0) {
            // Past the largest preferred size with none reached: what we have is the
            // batch to prefer (Triton marks the cursor here).
            if (best === 0 && size + bs > maxPreferred) best = count;
            if (size + bs > maxBatch || item.shapeKey !== shapeKey) {
              closed = true;
              break gather;
            }
          } else {
            shapeKey = item.shapeKey;
          }
          pick[count++] = e;
          size += bs;
          if (e.enqueuedAt < oldest) oldest = e.enqueuedAt;
          if (deadline - runMs < deadlineHold) deadlineHold = deadline - runMs;
          if (preferred.length === 1 ? size === preferred[0] : preferred.includes(size)) best = count;
          if (size >= maxBatch) {
            closed = true;
            break gather;
          }
        }
      }
    }
    if (count === 0) return 0;

    const holdEnd = deadlineHold - DEADLINE_SLACK_MS;
    const delayMs = this.delayMs;
    const expired = this.flushing || now >= holdEnd || (delayMs > 0 && now - oldest >= delayMs);
    // A preferred size reached goes at once (the rest waits for the next batch)...
    if (best > 0 && !expired) return best;
    // ...otherwise all that was gathered, once it cannot grow or may not wait longer.
    if (closed || size >= maxPreferred || expired || delayMs === 0) return count;
    // ...or at once when nothing could join it (BatcherOptions.quiet).
    if (this.quiet !== undefined && this.quiet()) return count;
    this.holdUntil = Math.min(oldest + delayMs, holdEnd);
    return 0;
  }

  private dispatch(n: number, now: number): void {
    const pick = this.pick;
    const batch: T[] = new Array<T>(n);
    const queueNs = this.queueNs;
    let size = 0;
    let maxLevel = 0;
    for (let i = 0; i < n; i++) {
      const e = pick[i]!;
      pick[i] = undefined;
      this.drop(e);
      if (e.level > maxLevel) maxLevel = e.level;
      const item = e.item;
      batch[i] = item;
      size += item.batchSize > 1 ? item.batchSize : 1;
      const ns = Math.round((now - e.enqueuedAt) * 1e6);
      queueNs[i] = ns;
      this.stats.queueNs += ns;
    }
    // The batch took a prefix of each level it touched, so only those heads need cleaning.
    for (let l = 0; l <= maxLevel; l++) this.compact(l);
    this.stats.executions++;
    this.stats.inferences += size;
    this.stats.requests += n;
    this.running++;

    let rec: Ordered<T, R> | undefined;
    if (this.preserveOrdering) {
      // Ordered by dispatch, as Triton reserves response slots when the batch is formed:
      // equal to arrival order within a priority level.
      rec = { batch, done: false, results: undefined, error: undefined };
      this.ordered.push(rec);
    }
    let p: Promise<(R | Error)[]>;
    try {
      // Inside the try: the batch is already out of the queue, so a throwing hook must
      // fail it rather than leave its requests unanswered.
      if (this.onDispatch !== undefined) this.onDispatch(batch, queueNs, size);
      p = this.run(batch);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (results) => this.finish(batch, rec, results, undefined),
      (err: unknown) => this.finish(batch, rec, undefined, asError(err)),
    );
  }

  private finish(
    batch: T[], rec: Ordered<T, R> | undefined,
    results: (R | Error)[] | undefined, error: Error | undefined,
  ): void {
    this.running--;
    if (error === undefined && (!Array.isArray(results) || results.length !== batch.length)) {
      error = new Internal(
        `batch of ${batch.length} requests returned ${Array.isArray(results) ? results.length : 'no'} results`);
    }
    // Start the next batch before answering this one: the instance is free now, and
    // answering (encoding responses) should not delay it.
    this.schedule();
    if (rec === undefined) {
      this.deliver(batch, results, error);
    } else {
      rec.done = true;
      rec.results = results;
      rec.error = error;
      const q = this.ordered;
      while (q.length > 0 && q.peek()!.done) {
        const r = q.shift()!;
        this.deliver(r.batch, r.results, r.error);
      }
    }
    this.checkIdle();
  }

  private rejectDoomed(): void {
    const doomed = this.doomed;
    for (let i = 0; i < doomed.length; i++) {
      const e = doomed[i]!;
      this.compact(e.level);
      this.refuse(e.item, new DeadlineExceeded());
    }
    doomed.length = 0;
  }

  private arm(at: number, now: number): void {
    if (at === Infinity) {
      this.disarm();
      return;
    }
    if (this.timer !== undefined) {
      // An earlier timer is harmless: it wakes, finds nothing due, and re-arms.
      if (this.timerAt <= at) return;
      this.clearTimer(this.timer);
    }
    this.timerAt = at;
    // Whole ms, rounded up, so the wake-up does not land just before `at`.
    this.timer = this.setTimer(this.onTimer, Math.max(0, Math.ceil(at - now)));
  }

  private disarm(): void {
    if (this.timer === undefined) return;
    this.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Internal(String(err));
}
