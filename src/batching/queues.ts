/**
 * The dynamic batcher's queues (Triton's priority_queue.cc): one FIFO per priority
 * level plus its DELAYed requests, admission (priority, queue size, timeouts,
 * deadlines), queue-policy timeouts and client deadlines as they fall due, and
 * cancellation. `Batcher` (./batcher.ts) builds on this and decides which queued
 * requests run together and when.
 */
import type { QueuePolicyConfig } from '../config/model-config.js';
import { Cancelled, DeadlineExceeded, InvalidArgument, QueueFull, RequestTimeout } from '../errors/errors.js';
import { Deque } from './deque.js';
import { MinHeap, type HeapNode } from './heap.js';
import type { BatchItem, BatcherOptions, BatcherStats } from './item.js';

const DEFAULT_POLICY: QueuePolicyConfig = {
  timeout_action: 'REJECT',
  default_timeout_microseconds: 0,
  allow_timeout_override: false,
  max_queue_size: 0,
};

/** Entry states. An entry sits in its level's main deque and, once DELAYed, also in the
 * delayed deque; deques are cleaned lazily, so readers skip entries whose state does
 * not match the deque they are reading. */
export const QUEUED = 0;
export const DELAYED = 1;
export const GONE = 2;

interface Owner<T> { abortEntry(e: Entry<T>): void }

/** Batcher bookkeeping for one queued request. */
export class Entry<T> implements HeapNode {
  heapIndex = -1;
  heapKey = Infinity;
  state = QUEUED;
  constructor(
    readonly owner: Owner<T>,
    readonly item: T,
    readonly level: number,
    readonly enqueuedAt: number,
    /** Queue-policy timeout (absolute ms); Infinity = none or already applied. */
    public timeoutAt: number,
  ) {}

  /** Listener object: the cancel signal calls back here, so no closure per request. */
  handleEvent(): void { this.owner.abortEntry(this); }
}

export abstract class BatchQueues<T extends BatchItem<R>, R> implements Owner<T> {
  /** Live totals; read-only for callers. */
  readonly stats: BatcherStats = { executions: 0, inferences: 0, requests: 0, queueNs: 0, rejected: 0 };

  protected readonly onCallbackError: (err: unknown) => void;
  /** priority_levels (0 = priorities off: the `priority` parameter is ignored). */
  protected readonly priorityLevels: number;
  protected readonly defaultLevel: number;

  // Per priority level (index = level - 1; one level when priorities are off).
  protected readonly mainQ: Deque<Entry<T>>[] = [];
  protected readonly delayedQ: Deque<Entry<T>>[] = [];
  protected readonly levelCount: number[] = [];
  private readonly maxQueue: number[] = [];
  private readonly timeoutUs: number[] = [];
  private readonly allowOverride: boolean[] = [];
  private readonly delayOnTimeout: boolean[] = [];

  /** Queue-policy timeouts and deadlines of queued entries, earliest first. */
  protected readonly expiries = new MinHeap<Entry<T>>();
  protected count = 0;

  constructor(opts: BatcherOptions<T>) {
    this.onCallbackError = opts.onCallbackError ?? rethrowLater;
    const dyn = opts.dynamic;
    const levels = dyn === undefined ? 0 : Number(dyn.priority_levels ?? 0);
    this.priorityLevels = levels;
    if (levels > 0) {
      const d = Number(dyn!.default_priority_level ?? 0);
      if (!(Number.isInteger(d) && d >= 1 && d <= levels)) {
        // Triton refuses such a config at load; so do we, rather than guess a level.
        throw new InvalidArgument(
          `default_priority_level must be in range [1, ${levels}], got ${d}`);
      }
      this.defaultLevel = d;
    } else {
      this.defaultLevel = 1;
    }
    const nLevels = Math.max(1, levels);
    for (let l = 0; l < nLevels; l++) {
      // Levels without their own policy use default_queue_policy (Triton).
      const p = (levels > 0 ? dyn!.priority_queue_policy?.[String(l + 1)] : undefined)
        ?? dyn?.default_queue_policy ?? DEFAULT_POLICY;
      this.mainQ.push(new Deque<Entry<T>>());
      this.delayedQ.push(new Deque<Entry<T>>(4));
      this.levelCount.push(0);
      this.maxQueue.push(Number(p.max_queue_size ?? 0));
      this.timeoutUs.push(Number(p.default_timeout_microseconds ?? 0));
      this.allowOverride.push(p.allow_timeout_override === true);
      this.delayOnTimeout.push(p.timeout_action === 'DELAY');
    }
  }

  /** Requests waiting in the queue (not yet dispatched). */
  get queued(): number { return this.count; }

  /**
   * Every priority level's queue is bounded and at its bound: any request would be
   * refused with QueueFull, whatever its priority (front ends refuse it before reading it).
   */
  get full(): boolean {
    const levels = this.levelCount.length;
    for (let l = 0; l < levels; l++) {
      const max = this.maxQueue[l]!;
      if (max === 0 || this.levelCount[l]! < max) return false;
    }
    return levels > 0;
  }

  /** Some priority level has a max_queue_size. */
  protected get bounded(): boolean {
    return this.maxQueue.some((n) => n > 0);
  }

  /** Run a scheduling pass (the batcher's). */
  protected abstract schedule(): void;

  /**
   * Queue a request, or refuse it (answered through `item.reject`: cancelled, invalid
   * priority, deadline already unreachable, queue full). True when it was queued.
   */
  protected admit(item: T, now: number, runMs: number): boolean {
    const signal = item.signal;
    if (signal?.aborted) { this.refuse(item, new Cancelled()); return false; }

    let level = 0;
    if (this.priorityLevels > 0) {
      const p = item.priority;
      if (p === 0 || p === undefined) level = this.defaultLevel - 1;
      else if (Number.isInteger(p) && p >= 1 && p <= this.priorityLevels) level = p - 1;
      else {
        this.refuse(item, new InvalidArgument(
          `invalid priority ${p}: the model has priority levels 1 to ${this.priorityLevels}`));
        return false;
      }
    }

    const deadline = item.deadline;
    if (now + runMs >= deadline) { this.refuse(item, new DeadlineExceeded()); return false; }

    const maxQueue = this.maxQueue[level]!;
    if (maxQueue > 0 && this.levelCount[level]! >= maxQueue) { this.refuse(item, new QueueFull()); return false; }

    // Triton: the request's timeout replaces the policy's only when overriding is
    // allowed and it is shorter (so with no default timeout, it cannot add one).
    let us = this.timeoutUs[level]!;
    if (this.allowOverride[level]) {
      const t = item.timeoutUs;
      if (t > 0 && t < us) us = t;
    }
    const timeoutAt = us > 0 ? now + us / 1000 : Infinity;

    const e = new Entry<T>(this, item, level, now, timeoutAt);
    this.mainQ[level]!.push(e);
    this.levelCount[level]!++;
    this.count++;
    // Watched for whichever comes first: its queue timeout or the last moment its
    // deadline can still be met.
    const key = deadline < Infinity ? Math.min(timeoutAt, deadline - runMs) : timeoutAt;
    if (key < Infinity) this.expiries.update(e, key);
    if (signal !== undefined) signal.addEventListener('abort', e);
    return true;
  }

  /** @internal The cancel signal of a queued request fired. */
  abortEntry(e: Entry<T>): void {
    if (e.state === GONE) return;
    this.drop(e);
    this.compact(e.level);
    this.refuse(e.item, new Cancelled());
    this.schedule();
  }

  protected refuse(item: T, err: Error): void {
    this.stats.rejected++;
    this.fail(item, err);
  }

  /** Answer with an error, shielding the batcher from a throwing callback. */
  protected fail(item: T, err: Error): void {
    try {
      item.reject(err);
    } catch (e) {
      this.onCallbackError(e);
    }
  }

  /** Take every entry of `q` in `state` out of the queue, into `out`. */
  protected collect(q: Deque<Entry<T>>, state: number, out: Entry<T>[]): void {
    for (let i = 0; i < q.length; i++) {
      const e = q.at(i);
      if (e.state === state) {
        this.drop(e);
        out.push(e);
      }
    }
  }

  /**
   * Take `e` out of the queue's bookkeeping. The deques are cleaned lazily (its slot
   * is skipped, then popped once it reaches the head), which keeps removal O(log n).
   */
  protected drop(e: Entry<T>): void {
    e.state = GONE;
    this.expiries.remove(e);
    this.levelCount[e.level]!--;
    this.count--;
    const signal = e.item.signal;
    if (signal !== undefined) signal.removeEventListener('abort', e);
  }

  /** Pop dead entries off the heads of a level's deques. */
  protected compact(level: number): void {
    const m = this.mainQ[level]!;
    while (m.length > 0 && m.peek()!.state !== QUEUED) m.shift();
    const d = this.delayedQ[level]!;
    while (d.length > 0 && d.peek()!.state !== DELAYED) d.shift();
  }

  /** Apply queue-policy timeouts and deadlines that are due. */
  protected expire(now: number, runMs: number): void {
    const heap = this.expiries;
    while (heap.peekKey() <= now) {
      const e = heap.peek()!;
      const deadline = e.item.deadline;
      if (e.timeoutAt <= now) {
        e.timeoutAt = Infinity;
        if (this.delayOnTimeout[e.level]) {
          // DELAY: keep it, behind the unexpired requests of its level (Triton's
          // delayed queue); the main deque's copy is skipped from now on.
          e.state = DELAYED;
          this.delayedQ[e.level]!.push(e);
          this.compact(e.level);
          // Still watched for its deadline; if that is already out of reach, the next
          // turn of this loop pops it again and rejects it.
          if (deadline < Infinity) heap.update(e, deadline - runMs);
          else heap.remove(e);
          continue;
        }
        this.expireOne(e, new RequestTimeout());
        continue;
      }
      if (now + runMs >= deadline) {
        this.expireOne(e, new DeadlineExceeded());
        continue;
      }
      // The run-time estimate shrank since the key was set: the deadline is further off.
      heap.update(e, Math.min(e.timeoutAt, deadline - runMs));
    }
  }

  private expireOne(e: Entry<T>, err: Error): void {
    this.drop(e);
    this.compact(e.level);
    this.refuse(e.item, err);
  }
}

export function rethrowLater(err: unknown): void {
  queueMicrotask(() => { throw err; });
}
