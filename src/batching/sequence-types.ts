/**
 * What the sequence batcher (sequence-scheduler.ts) and its owner say to each other:
 * a request as the scheduler sees it (`SeqItem`), the batches it hands to the injected
 * `run` (`SeqBatch`, one `SeqRow` per slot), its options and its running totals.
 */
import type { CancelSignal } from '../types/cancel.js';

/** A correlation id: uint64 (bigint) or string. Never 0 / '' (refused before here). */
export type CorrId = bigint | string;

export interface SeqItem {
  readonly corrId: CorrId;
  readonly start: boolean;
  readonly end: boolean;
  /** Requests may share a batch only when equal (non-batch shapes). */
  readonly shapeKey: string;
  /** The request's `timeout` parameter (us): only applies while its sequence is backlogged. 0 = none. */
  readonly timeoutUs: number;
  readonly signal?: CancelSignal;
  resolve(result: unknown): void;
  reject(err: Error): void;
}

export interface SeqRow<T> {
  /** Slot index within the instance: the key of the sequence's implicit state. */
  readonly slot: number;
  /** The request this row runs; undefined = an empty slot (READY false). */
  readonly item: T | undefined;
  /** START true: the first request of the sequence (its state starts from the initial state). */
  readonly start: boolean;
  /** END true: the last request; the slot (and its state) is freed after this batch. */
  readonly end: boolean;
  /** The sequence's id (CORRID control); undefined for an empty slot. */
  readonly corrId: CorrId | undefined;
}

export interface SeqBatch<T> {
  readonly instance: number;
  readonly rows: readonly SeqRow<T>[];
  /** The rows' requests, in row order (what `run` answers, one result each). */
  readonly items: readonly T[];
}

/** One result per `batch.items` entry, same order; an Error fails just that request. */
export type RunSeqBatch<T, R> = (batch: SeqBatch<T>) => Promise<(R | Error)[]>;

/** Why a slot was freed. */
export type ReleaseReason = 'end' | 'idle' | 'closed';

export interface SequenceSchedulerOptions {
  modelName: string;
  strategy: 'direct' | 'oldest';
  instances: number;
  slotsPerInstance: number;
  /** Most rows in one oldest batch (largest preferred size, else max(1, max_batch_size)). */
  maxRows: number;
  /** oldest: sizes that go at once. Default [maxRows]. */
  preferred?: readonly number[];
  /** max_queue_delay_microseconds / 1000. */
  delayMs: number;
  /** direct: minimum_slot_utilization (0..1); with delayMs, wait for this share of slots. */
  minSlotUtilization?: number;
  /** max_sequence_idle_microseconds / 1000. */
  idleMs: number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  /**
   * A slot was freed by idle timeout or close (END frees the state in the run itself):
   * the owner drops the state the instance keeps for it.
   */
  onRelease?: (instance: number, slot: number, reason: ReleaseReason) => void;
  /** Where an exception thrown by an item's resolve/reject goes (default: rethrown in a microtask). */
  onCallbackError?: (err: unknown) => void;
}

/** Running totals (statistics and metrics read them). */
export interface SequenceStats {
  /** Sequences that began (a START that got or waits for a slot; a restart counts too). */
  started: number;
  /** Sequences whose END request ran. */
  ended: number;
  /** Sequences released by the idle timeout. */
  timedOut: number;
  /** Backlogged sequences dropped because a request's timeout expired. */
  expired: number;
}
