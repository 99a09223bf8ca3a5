/**
 * The sequence batcher (Triton's `sequence_batching`):
 * which request of which sequence runs in which batch row of which model instance.
 *
 * Like the dynamic batcher it knows nothing about tensors. A request is a `SeqItem`
 * (its correlation id, START/END flags, how to answer it); a batch is a `SeqBatch`:
 * one instance and its rows, each row a slot of that instance with the request it
 * runs now (or none: READY false) and the flags its control tensors carry. `run`
 * (injected) builds the tensors and runs them; the clock and timer are injected too,
 * so every rule here is testable without threads or sockets. The types it shares with
 * its owner are in sequence-types.ts.
 *
 * Rules:
 * - Each instance has `slots` slots. A START takes a free slot (on the instance with
 *   the most free slots) and the sequence keeps that (instance, slot) until its END
 *   has run or it sits idle past `idleMs`; its implicit state lives with the slot (in
 *   the worker thread that runs the instance), so the slot index is the state's key.
 * - No free slot: the sequence waits in a FIFO backlog with all its requests (queued,
 *   not rejected) until a slot frees. A backlogged request whose `timeoutUs` expires
 *   drops its whole sequence ("timeout of the corresponding sequence has been expired").
 * - One batch in flight per instance, and at most one request per sequence per batch,
 *   so the requests of a sequence run in arrival order.
 * - direct: a batch is the instance's slots 0..k (k = the highest slot with a request);
 *   a slot without one is a READY-false row. oldest: a batch is the oldest waiting
 *   requests across the instance's sequences, up to the largest preferred size.
 * - A non-START request for an id that is not live (never started, ended, idle-released)
 *   is refused; after a request with END is queued the id is no longer live, so a later
 *   START begins a new sequence. START on a live id restarts it in its slot.
 *
 * Single-threaded (the main thread); everything happens in `enqueue`, batch completion
 * and one timer. Work per scheduling pass is O(live sequences + backlog), which are
 * bounded by slots and client concurrency.
 */
import { Cancelled, Internal, InvalidArgument, Unavailable } from '../errors/errors.js';
import type {
  CorrId, ReleaseReason, RunSeqBatch, SeqBatch, SeqItem, SeqRow, SequenceSchedulerOptions, SequenceStats,
} from './sequence-types.js';

const idKey = (id: CorrId): string => (typeof id === 'string' ? `s${id}` : `n${id}`);

class Entry<T extends SeqItem> {
  constructor(
    readonly owner: SequenceScheduler<T, unknown>,
    readonly seq: Seq<T>,
    readonly item: T,
    readonly enqueuedAt: number,
    /** Backlog expiry (absolute ms); Infinity = none. */
    readonly timeoutAt: number,
  ) {}

  /** Listener object for the cancel signal: no closure per request. */
  handleEvent(): void { this.owner.abortEntry(this); }
}

class Seq<T extends SeqItem> {
  readonly queue: Entry<T>[] = [];
  instance = -1;
  slot = -1;
  /** A request of it is in the running batch. */
  running = false;
  /** Last time it had a request queued or running (idle clock). */
  lastActive: number;
  /** An END request is queued: the id is no longer live; the slot frees once it has run. */
  ending = false;
  constructor(readonly id: CorrId, readonly key: string, now: number) { this.lastActive = now; }
}

export class SequenceScheduler<T extends SeqItem, R> {
  readonly stats: SequenceStats = { started: 0, ended: 0, timedOut: 0, expired: 0 };

  readonly #o: SequenceSchedulerOptions;
  readonly #run: RunSeqBatch<T, R>;
  readonly #now: () => number;
  readonly #setTimer: (fn: () => void, ms: number) => unknown;
  readonly #clearTimer: (handle: unknown) => void;
  readonly #onCallbackError: (err: unknown) => void;
  readonly #preferred: readonly number[];
  /** [instance][slot] -> the sequence holding it. */
  readonly #slots: (Seq<T> | undefined)[][] = [];
  readonly #busy: boolean[] = [];
  /** Live ids -> sequence (slotted or backlogged). */
  readonly #live = new Map<string, Seq<T>>();
  /** Sequences whose END is queued: no longer live by id, still holding a slot. */
  readonly #ending = new Set<Seq<T>>();
  readonly #backlog: Seq<T>[] = [];
  #timer: unknown = undefined;
  #timerAt = Infinity;
  #scheduling = false;
  #again = false;
  #closedWith: Error | undefined;
  #refuseStartsWith: Error | undefined;
  readonly #idleWaiters: (() => void)[] = [];

  constructor(opts: SequenceSchedulerOptions, run: RunSeqBatch<T, R>) {
    if (!(opts.instances >= 1) || !(opts.slotsPerInstance >= 1)) {
      throw new Internal('sequence scheduler needs at least one instance and one slot');
    }
    this.#o = opts;
    this.#run = run;
    this.#now = opts.now ?? performance.now.bind(performance);
    this.#setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms).unref());
    this.#clearTimer = opts.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
    this.#onCallbackError = opts.onCallbackError ?? ((err) => queueMicrotask(() => { throw err; }));
    const pref = (opts.preferred ?? []).filter((n) => n >= 1 && n <= opts.maxRows);
    this.#preferred = pref.length > 0 ? pref : [opts.maxRows];
    for (let i = 0; i < opts.instances; i++) {
      this.#slots.push(new Array<Seq<T> | undefined>(opts.slotsPerInstance).fill(undefined));
      this.#busy.push(false);
    }
  }

  /** Sequences holding a slot now (ending ones included). */
  get active(): number {
    let n = 0;
    for (const row of this.#slots) for (const s of row) if (s !== undefined) n++;
    return n;
  }

  /** Sequences waiting for a slot. */
  get backlogged(): number { return this.#backlog.length; }

  /** Whether `id` is a live sequence here (the registry routes its next request to this version). */
  has(id: CorrId): boolean { return this.#live.has(idKey(id)); }

  /** Queue a request. Never throws: refusals are answered through `item.reject`. */
  enqueue(item: T): void {
    if (this.#closedWith !== undefined) return this.#fail(item, this.#closedWith);
    if (item.signal?.aborted) return this.#fail(item, new Cancelled());
    const key = idKey(item.corrId);
    const now = this.#now();
    let seq = this.#live.get(key);
    if (seq === undefined) {
      if (!item.start) {
        return this.#fail(item, new InvalidArgument(`inference request for sequence ${String(item.corrId)} to model '${this.#o.modelName}' must specify the START flag on the first request of the sequence`));
      }
      if (this.#refuseStartsWith !== undefined) return this.#fail(item, this.#refuseStartsWith);
      seq = new Seq<T>(item.corrId, key, now);
      this.#live.set(key, seq);
      this.stats.started++;
      if (!this.#assign(seq)) this.#backlog.push(seq);
    } else if (item.start) {
      // START on a live id: the old sequence ends early and a new one starts in its slot.
      this.stats.started++;
    }
    const inBacklog = seq.slot < 0;
    const timeoutAt = inBacklog && item.timeoutUs > 0 ? now + item.timeoutUs / 1000 : Infinity;
    const e = new Entry<T>(this as SequenceScheduler<T, unknown>, seq, item, now, timeoutAt);
    seq.queue.push(e);
    seq.lastActive = now;
    if (item.end) {
      seq.ending = true;
      this.#live.delete(key);
      this.#ending.add(seq);
    }
    item.signal?.addEventListener('abort', e);
    this.#schedule();
  }

  /** Refuse STARTs of new sequences with `err` (the version is retiring); live ones continue. */
  refuseStarts(err: Error): void {
    this.#refuseStartsWith = err;
    for (const s of [...this.#backlog]) {
      // Backlogged sequences never started on this version: they cannot finish here.
      this.#dropBacklogged(s, err);
    }
    this.#schedule();
  }

  /** Resolves once no sequence holds a slot or waits, and nothing runs. */
  whenIdle(): Promise<void> {
    if (this.#idle()) return Promise.resolve();
    return new Promise<void>((resolve) => { this.#idleWaiters.push(resolve); });
  }

  /** Reject everything queued, free every slot, refuse new requests. Running batches finish. */
  close(err: Error): void {
    if (this.#closedWith !== undefined) return;
    this.#closedWith = err;
    for (const s of [...this.#backlog]) this.#dropBacklogged(s, err);
    for (let i = 0; i < this.#slots.length; i++) {
      for (let k = 0; k < this.#slots[i]!.length; k++) {
        const seq = this.#slots[i]![k];
        if (seq === undefined) continue;
        for (const e of seq.queue.splice(0)) this.#failEntry(e, err);
        if (!seq.running) this.#free(seq, 'closed');
      }
    }
    this.#disarm();
    this.#checkIdle();
  }

  /** @internal A queued request's cancel signal fired. */
  abortEntry(e: Entry<T>): void {
    const q = e.seq.queue;
    const i = q.indexOf(e);
    if (i < 0) return;
    q.splice(i, 1);
    this.#failEntry(e, new Cancelled());
    this.#schedule();
  }

  // ---------------------------------------------------------------------------------

  #fail(item: T, err: Error): void {
    try {
      item.reject(err);
    } catch (e) {
      this.#onCallbackError(e);
    }
  }

  #failEntry(e: Entry<T>, err: Error): void {
    e.item.signal?.removeEventListener('abort', e);
    this.#fail(e.item, err);
  }

  /** A free slot for `seq`: on the instance with the most free slots, its lowest free slot. */
  #assign(seq: Seq<T>): boolean {
    let bestI = -1;
    let bestFree = 0;
    for (let i = 0; i < this.#slots.length; i++) {
      let free = 0;
      for (const s of this.#slots[i]!) if (s === undefined) free++;
      if (free > bestFree) { bestFree = free; bestI = i; }
    }
    if (bestI < 0) return false;
    const row = this.#slots[bestI]!;
    const k = row.indexOf(undefined);
    row[k] = seq;
    seq.instance = bestI;
    seq.slot = k;
    return true;
  }

  #free(seq: Seq<T>, reason: ReleaseReason): void {
    if (seq.slot < 0) return;
    this.#slots[seq.instance]![seq.slot] = undefined;
    const { instance, slot } = seq;
    seq.slot = -1;
    seq.instance = -1;
    this.#ending.delete(seq);
    if (this.#live.get(seq.key) === seq) this.#live.delete(seq.key);
    if (reason !== 'end') this.#o.onRelease?.(instance, slot, reason);
    // The freed slot goes to the oldest backlogged sequence.
    const next = this.#backlog[0];
    if (next !== undefined && this.#assign(next)) this.#backlog.shift();
  }

  #dropBacklogged(seq: Seq<T>, err: Error): void {
    const i = this.#backlog.indexOf(seq);
    if (i >= 0) this.#backlog.splice(i, 1);
    if (this.#live.get(seq.key) === seq) this.#live.delete(seq.key);
    this.#ending.delete(seq);
    for (const e of seq.queue.splice(0)) this.#failEntry(e, err);
  }

  #idle(): boolean {
    return this.#live.size === 0 && this.#ending.size === 0 && this.#backlog.length === 0 && !this.#busy.includes(true);
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0 || !this.#idle()) return;
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  #schedule(): void {
    if (this.#scheduling) { this.#again = true; return; }
    this.#scheduling = true;
    try {
      do {
        this.#again = false;
        const now = this.#now();
        let next = this.#expire(now);
        for (let i = 0; i < this.#slots.length; i++) {
          if (this.#busy[i]) continue;
          const hold = this.#o.strategy === 'direct' ? this.#formDirect(i, now) : this.#formOldest(i, now);
          if (hold < next) next = hold;
        }
        this.#arm(next, now);
      } while (this.#again);
    } finally {
      this.#scheduling = false;
    }
    this.#checkIdle();
  }

  /** Idle releases and backlog timeouts that are due; returns when the next one is. */
  #expire(now: number): number {
    let next = Infinity;
    const idleMs = this.#o.idleMs;
    for (const row of this.#slots) {
      for (const seq of row) {
        if (seq === undefined || seq.running || seq.queue.length > 0) continue;
        const at = seq.lastActive + idleMs;
        if (at <= now) {
          this.stats.timedOut++;
          this.#free(seq, 'idle');
        } else if (at < next) {
          next = at;
        }
      }
    }
    for (const seq of [...this.#backlog]) {
      for (const e of seq.queue) {
        if (e.timeoutAt <= now) {
          this.stats.expired++;
          this.#dropBacklogged(seq, new Unavailable('timeout of the corresponding sequence has been expired'));
          break;
        }
        if (e.timeoutAt < next) next = e.timeoutAt;
      }
    }
    return next;
  }

  /** direct: slots 0..k of instance i. Returns Infinity, or when a held batch must go. */
  #formDirect(i: number, now: number): number {
    const row = this.#slots[i]!;
    let shapeKey: string | undefined;
    let oldest = Infinity;
    for (const seq of row) {
      const e = seq?.queue[0];
      if (e !== undefined && e.enqueuedAt < oldest) { oldest = e.enqueuedAt; shapeKey = e.item.shapeKey; }
    }
    if (shapeKey === undefined) return Infinity;
    let last = -1;
    let ready = 0;
    for (let k = 0; k < row.length; k++) {
      const e = row[k]?.queue[0];
      if (e !== undefined && e.item.shapeKey === shapeKey) { last = k; ready++; }
    }
    const delay = this.#o.delayMs;
    const minUtil = this.#o.minSlotUtilization ?? 0;
    if (delay > 0 && ready / row.length < minUtil && now - oldest < delay) return oldest + delay;
    const rows: SeqRow<T>[] = [];
    const items: T[] = [];
    for (let k = 0; k <= last; k++) {
      const seq = row[k];
      const e = seq?.queue[0];
      if (seq === undefined || e === undefined || e.item.shapeKey !== shapeKey) {
        rows.push({ slot: k, item: undefined, start: false, end: false, corrId: undefined });
        continue;
      }
      rows.push(this.#take(seq, e));
      items.push(e.item);
    }
    this.#dispatch(i, rows, items);
    return Infinity;
  }

  /** oldest: the oldest heads across instance i's sequences, up to the largest preferred size. */
  #formOldest(i: number, now: number): number {
    const heads: Entry<T>[] = [];
    for (const seq of this.#slots[i]!) {
      const e = seq?.queue[0];
      if (e !== undefined) heads.push(e);
    }
    if (heads.length === 0) return Infinity;
    heads.sort((a, b) => a.enqueuedAt - b.enqueuedAt);
    const shapeKey = heads[0]!.item.shapeKey;
    const pick = heads.filter((e) => e.item.shapeKey === shapeKey).slice(0, Math.max(...this.#preferred));
    const delay = this.#o.delayMs;
    const reached = this.#preferred.includes(pick.length) || pick.length >= Math.max(...this.#preferred);
    if (!reached && delay > 0 && now - pick[0]!.enqueuedAt < delay) return pick[0]!.enqueuedAt + delay;
    const rows: SeqRow<T>[] = [];
    const items: T[] = [];
    for (const e of pick) {
      rows.push(this.#take(e.seq, e));
      items.push(e.item);
    }
    this.#dispatch(i, rows, items);
    return Infinity;
  }

  /** Move the head request of `seq` into a batch row. */
  #take(seq: Seq<T>, e: Entry<T>): SeqRow<T> {
    seq.queue.shift();
    seq.running = true;
    e.item.signal?.removeEventListener('abort', e);
    return { slot: seq.slot, item: e.item, start: e.item.start, end: e.item.end, corrId: seq.id };
  }

  #dispatch(instance: number, rows: SeqRow<T>[], items: T[]): void {
    this.#busy[instance] = true;
    const batch: SeqBatch<T> = { instance, rows, items };
    let p: Promise<(R | Error)[]>;
    try {
      p = this.#run(batch);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (results) => this.#finish(batch, results, undefined),
      (err: unknown) => this.#finish(batch, undefined, err instanceof Error ? err : new Internal(String(err))),
    );
  }

  #finish(batch: SeqBatch<T>, results: (R | Error)[] | undefined, error: Error | undefined): void {
    if (error === undefined && (!Array.isArray(results) || results.length !== batch.items.length)) {
      error = new Internal(`sequence batch of ${batch.items.length} requests returned ${Array.isArray(results) ? results.length : 'no'} results`);
    }
    const now = this.#now();
    const row = this.#slots[batch.instance]!;
    for (const r of batch.rows) {
      if (r.item === undefined) continue;
      const seq = row[r.slot];
      if (seq === undefined) continue;
      seq.running = false;
      seq.lastActive = now;
      if (r.end) {
        this.stats.ended++;
        this.#free(seq, 'end');
      } else if (this.#closedWith !== undefined && seq.queue.length === 0) {
        this.#free(seq, 'closed');
      }
    }
    this.#busy[batch.instance] = false;
    // Next batch first: the instance is free, and answering should not delay it.
    this.#schedule();
    for (let k = 0; k < batch.items.length; k++) {
      const item = batch.items[k]!;
      const res = error ?? results![k];
      try {
        if (res instanceof Error) item.reject(res);
        else item.resolve(res);
      } catch (e) {
        this.#onCallbackError(e);
      }
    }
    this.#checkIdle();
  }

  #arm(at: number, now: number): void {
    if (at === Infinity) { this.#disarm(); return; }
    if (this.#timer !== undefined) {
      if (this.#timerAt <= at) return;
      this.#clearTimer(this.#timer);
    }
    this.#timerAt = at;
    this.#timer = this.#setTimer(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#schedule();
    }, Math.max(0, Math.ceil(at - now)));
  }

  #disarm(): void {
    if (this.#timer === undefined) return;
    this.#clearTimer(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }
}
